"""Benchmarks that print figures (run with `python -m bench.NAME`); they measure, never assert."""
