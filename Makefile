# Two entry points: `make run` (the kiosk on a simulated bath) and `make test` (every test).
# Each installs what it needs: Debian packages when missing, then a venv in .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check test-system lint coverage bench clean

run: $(STAMP)
	$(VENV)/bin/footbath run

# A worker per core, each test file kept on one worker (module fixtures, one Kivy window each);
# then the system tests on a booted Debian VM, where the host can run them (tools/system-tests.sh).
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto --dist loadfile
	sh tools/system-tests.sh $(PY)

# The system tests alone: a Debian bookworm VM under QEMU (tests/system; root; about eight
# minutes the first time, while the image and the installed disk are made and cached).
# The fast lane while working: every test that opens no window, starts no process and is not
# slow (pyproject.toml's markers); `make test` runs them all.
check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto -m "not ui and not processes and not slow"

test-system: $(STAMP)
	$(PY) -m ruff check tests/system
	sh tools/system-tests.sh $(PY)

coverage: $(STAMP)
	$(PY) -m pytest -q --cov=routines --cov-report=term-missing tests/routines

lint: $(STAMP)
	$(PY) -m ruff check .

$(STAMP): pyproject.toml tools/debian-packages.sh
	sh tools/debian-packages.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
