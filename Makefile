# Two commands for a fresh machine:  make figures   and   make test
# Both create .venv on first use and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
NB ?=

.PHONY: figures test bench install clean-build

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m ipykernel install --user --name gafn --display-name "gafn (.venv)" > /dev/null
	touch $(STAMP)

install: $(STAMP)

figures: $(STAMP)
	$(PY) -m gafn_lib.pipeline --profile $(PROFILE) $(if $(NB),--only $(NB),)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m gafn_lib.bench --json

clean-build:
	rm -rf build/notebooks
