# scribefleet developer commands. `make test` is the README's test command and what CI runs.
PY ?= .venv/bin/python
PIP ?= .venv/bin/pip

.PHONY: install test test-fast lint demo bench clean

install: .venv/.installed
.venv/.installed: requirements.txt constraints.txt pyproject.toml
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	touch $@

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not models and not e2e"

lint: install
	bash scripts/lint.sh

# The README's first command: everything on this machine (moto from template.yaml, real worker processes), then off.
demo: install
	$(PY) -m scribefleet.cli demo

clean:
	rm -rf .venv .venv-sam .pytest_cache .aws-sam
