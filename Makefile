# Two commands for a fresh machine:  make figures   and   make test   (then make results: docs/results.md)
# Both create .venv on first use and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
NB ?=
# notebooks executed at a time by make figures (their runs are trained first, on every core)
JOBS ?= 2
LAB_IP ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_ARGS ?=
# Jupyter refuses to run as root unless told (the project's machines and CI run as root).
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: figures results test bench install lab clean-build

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[lab,dev]'
	$(PY) -m ipykernel install --user --name gafn --display-name "gafn (.venv)" > /dev/null
	touch $(STAMP)

install: $(STAMP)

figures: $(STAMP)
	$(PY) -m gafn_lib.repro.pipeline --profile $(PROFILE) --jobs $(JOBS) $(if $(NB),--only $(NB),)

# docs/results.md (every claim by notebook and profile, distinct verdict counts, figures, logged
# compute) and the README's summary table, generated from the committed tables; run after make figures.
results: $(STAMP)
	$(PY) -m gafn_lib.repro.report --results-md docs/results.md --readme README.md

test: $(STAMP)
	$(PY) -m pytest -q

# JupyterLab on the project's kernel with notebooks/ open; the URL (with its access token) is
# printed below the log line "Jupyter Server ... is running at:". Outputs of interactive runs go to
# build/ (see README, "Run a notebook interactively").
lab: $(STAMP)
	@echo "make lab: starting JupyterLab on $(LAB_IP) (Ctrl-C twice to stop); open the URL printed below."
	$(PY) -m jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		--ServerApp.ip=$(LAB_IP) --ServerApp.port=$(LAB_PORT) $(LAB_ROOT) $(LAB_ARGS)

bench: $(STAMP)
	$(PY) -m gafn_lib.bench --json

clean-build:
	rm -rf build/notebooks
