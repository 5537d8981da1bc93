# Kefu Desk: `make run` serves the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= localhost
DB     := $(or $(KEFU_DB),data/kefu.db)
WORKERS ?= $(shell nproc)

.PHONY: run serve test bench check lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	@if [ ! -f "$(DB)" ]; then $(PY) -m kefu init --demo; else $(PY) -m kefu init; fi
	$(VENV)/bin/streamlit run serve.py --server.port $(PORT) --server.address $(ADDRESS)

# Several worker processes on one database file behind Caddy (apt-get install caddy), supervised (kefu/cluster.py).
serve: $(VENV)/.installed
	@if [ ! -f "$(DB)" ]; then $(PY) -m kefu init --demo; else $(PY) -m kefu init; fi
	$(PY) -m kefu serve --workers $(WORKERS) --port $(PORT) --address $(ADDRESS)

test: $(VENV)/.installed-dev
	$(PY) -m pytest -n 2 --dist worksteal

bench: $(VENV)/.installed-dev
	$(PY) -m bench

check: $(VENV)/.installed
	$(PY) -m kefu check

clean:
	rm -rf $(VENV) .pytest_cache
