# Two commands for a newcomer on a fresh machine (Python 3.10+):
#   make demo   set up a virtual environment, then run the study with the shipped checkpoints -> results/
#   make test   set up the same environment, then run the test suite (default: everything but `slow`)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The exact versions the tests and README's numbers were produced with (Python 3.11, Linux x86-64).
# `make CONSTRAINTS=` installs the newest versions that pyproject.toml allows instead.
CONSTRAINTS ?= constraints.txt
PIP_C := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))

.PHONY: demo test test-all results benchmarks clean

# Dependencies come from pyproject.toml through requirements.txt (`-e .[dev]`); the stamp makes a
# second `make` skip the install until one of these files changes.
$(STAMP): pyproject.toml requirements.txt $(CONSTRAINTS)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel $(PIP_C)
	$(PY) -m pip install --quiet --no-build-isolation -r requirements.txt $(PIP_C)
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m s2v.cli study --out results

results: $(STAMP)
	$(PY) -m s2v.cli study --out results --realisations 10

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(PY) -m pytest -q

benchmarks: $(STAMP)
	$(PY) benchmarks/core_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
