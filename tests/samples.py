"""Test data several test files share."""

# A small valid local routine that overrides nothing shipped.
MORNING_ROUTINE = """\
id: morning
name: Morning wake-up
description: A short warm soak.
soak: {target_c: 37.5, duration_s: 420}
steps:
  - {title: Rest, say: Sit back and breathe slowly., duration_s: 30}
"""
