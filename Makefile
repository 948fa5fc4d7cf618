# Two entry points: `make run` (the kiosk on a simulated bath) and `make test` (every test).
# Each installs what it needs: Debian packages when missing, then a venv in .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-system lint coverage bench clean

run: $(STAMP)
	$(VENV)/bin/footbath run

# A worker per core, each test file kept on one worker (module fixtures, one Kivy window each).
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto --dist loadfile

# The system tests alone: a Debian bookworm VM under QEMU (tests/system; root, a few minutes
# the first time while the image is built and cached outside the checkout).
test-system: $(STAMP)
	sh tools/system-packages.sh
	$(PY) -m ruff check tests/system
	FOOTBATH_SYSTEM_TESTS=1 $(PY) -m pytest -q tests/system

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
