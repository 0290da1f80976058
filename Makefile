# Two commands for a newcomer on a fresh machine (Python 3.10+):
#   make demo   set up a virtual environment, then run the study with the shipped checkpoints -> results/
#   make test   set up the same environment, then run the test suite (default: everything but `slow`)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all results benchmarks clean

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
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
