# colorlab: `make help` lists the targets. Every target installs what it needs first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# pytest workers: 2 cores here; override with `make test JOBS=8`
JOBS    ?= 2
# make app: where the page listens
HOST    ?= 127.0.0.1
PORT    ?= 7860

.PHONY: help install demo app test bench lint clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv and install colorlab[dev] into it (fast when already done)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install  ## train on the built-in procedural scenes (~1 min on 2 CPU cores), write a grid and metrics
	$(PY) -m colorlab demo

app: install  ## the colorize web page on http://127.0.0.1:7860 (HOST=0.0.0.0 PORT=8080 to change; MODEL=NAME)
	$(PY) -m colorlab app --host $(HOST) --port $(PORT) $(if $(MODEL),--model $(MODEL))

test: install  ## run the test suite
	$(PY) -m pytest -n $(JOBS) -q

bench: install  ## benchmarks against what users would otherwise run -> benchmarks/results.json + results.md
	$(PY) benchmarks/run.py

lint: install  ## ruff
	$(VENV)/bin/ruff check colorlab tests benchmarks

clean:  ## remove run outputs (keeps .venv)
	rm -rf lightning_logs outputs wandb .pytest_cache
