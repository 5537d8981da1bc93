# Kefu Desk: `make run` serves the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= localhost
DB     := $(or $(KEFU_DB),data/kefu.db)
WORKERS ?= $(shell nproc)

.PHONY: run serve test test-pg bench check lint clean

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

# The engine's tests again on PostgreSQL (apt-get install postgresql): tests/pgcluster.py starts a throwaway
# cluster on a free local port and removes it afterwards. The files that run on both stores so far:
PG_TESTS ?= tests/test_admin.py tests/test_auth.py tests/test_backup_pg.py tests/test_browser_pg.py \
	tests/test_club.py tests/test_customers.py tests/test_designer.py tests/test_editing.py tests/test_events.py \
	tests/test_exporting.py tests/test_fields.py tests/test_handoff.py tests/test_importing.py \
	tests/test_incentives.py tests/test_kiosk.py tests/test_knowledge.py tests/test_kpi.py tests/test_kpi_tables.py \
	tests/test_migrate_to.py tests/test_pg_faults.py tests/test_privacy.py tests/test_reports.py \
	tests/test_roster.py tests/test_rules_editor.py tests/test_seed_pg.py tests/test_sheets.py tests/test_sla.py tests/test_sla_shifts.py \
	tests/test_store.py tests/test_superior.py tests/test_survey_reports.py tests/test_surveys.py \
	tests/test_text.py tests/test_tickets.py tests/test_traffic_report.py tests/test_versions.py \
	tests/test_visitors.py tests/test_workflow.py
test-pg: $(VENV)/.installed-dev
	$(PY) tests/pgcluster.py $(PY) -m pytest -n 2 --dist worksteal $(PG_TESTS)

bench: $(VENV)/.installed-dev
	$(PY) -m bench

check: $(VENV)/.installed
	$(PY) -m kefu check

clean:
	rm -rf $(VENV) .pytest_cache
