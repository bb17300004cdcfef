# The two commands of the README, and a few helpers. Every target sets up what it needs first.
.PHONY: setup run test lint typecheck check clean-data

BACKEND_PY := .venv/backend/bin/python

setup:
	@bash scripts/setup.sh

## The dashboard with live recognition on the embedded defaults (Ctrl-C stops everything).
run: setup
	@$(BACKEND_PY) -m backend.devstack run

## Everything `run` sets up, then the whole pytest suite against real services, then stop.
test: setup
	@$(BACKEND_PY) -m backend.devstack test $(PYTEST_ARGS)

lint: setup
	@.venv/backend/bin/ruff check . && .venv/backend/bin/ruff format --check .

typecheck: setup
	@.venv/backend/bin/mypy backend

## Static checks that need no running service.
check: setup
	@DJANGO_SETTINGS_MODULE=backend.settings.local $(BACKEND_PY) manage.py check
	@DJANGO_SETTINGS_MODULE=backend.settings.local $(BACKEND_PY) manage.py makemigrations --check --dry-run

## Deletes the data folder of the test profile (the run profile's var/ is never deleted by make).
clean-data:
	rm -rf var/test
