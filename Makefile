# The two commands of the README, and a few helpers. Every target sets up what it needs first.
.PHONY: setup run test static lint typecheck clean-data evaluate backup restore

BACKEND_PY := .venv/backend/bin/python

setup:
	@bash scripts/setup.sh

## The dashboard with live recognition on the embedded defaults (Ctrl-C stops everything).
run: setup
	@$(BACKEND_PY) -m backend.devstack run

## Everything `run` sets up, static checks, the frontend's unit tests (node's test runner), then the
## whole pytest suite against real services, then stop.
test: setup static
	@cd frontend && npm test --silent
	@$(BACKEND_PY) -m backend.devstack test $(PYTEST_ARGS)

## Checks that need no running service: lint, Django's system checks, no missing migration.
static: setup
	@.venv/backend/bin/ruff check backend tests inference
	@DJANGO_SETTINGS_MODULE=backend.settings.local $(BACKEND_PY) manage.py check --fail-level WARNING
	@DJANGO_SETTINGS_MODULE=backend.settings.local $(BACKEND_PY) manage.py makemigrations --check --dry-run >/dev/null 2>&1 || \
		{ echo "error: a model change has no migration; run manage.py makemigrations"; exit 1; }

lint: setup
	@.venv/backend/bin/ruff check . && .venv/backend/bin/ruff format --check .

typecheck: setup
	@.venv/backend/bin/mypy backend


## The full accuracy evaluation on the shared datasets (issue 9): images, then video replay. Each
## report is stored in the run profile's database and shown at /evaluation/ by `make run`.
evaluate: setup
	@$(BACKEND_PY) -m backend.devstack manage evaluate images --out var/evaluation
	@$(BACKEND_PY) -m backend.devstack manage evaluate video --out var/evaluation

## Backup and restore of the run profile's data folder (docs/operations.md). `make backup` writes an
## encrypted archive to var/backups (the key: FR_BACKUP_KEY_PATH, created once with
## `make backup BACKUP_ARGS=--create-key`) and prunes archives past the retention;
## `make restore ARCHIVE=var/backups/backup-....frbk` restores one into an empty data folder and
## proves it (audit chain, every checkpoint, row counts).
backup: setup
	@$(BACKEND_PY) -m backend.devstack manage backup --prune $(BACKUP_ARGS)

restore: setup
	@test -n "$(ARCHIVE)" || { echo "usage: make restore ARCHIVE=path/to/backup-....frbk"; exit 2; }
	@$(BACKEND_PY) -m backend.devstack manage restore "$(ARCHIVE)"

## Deletes the data folder of the test profile (the run profile's var/ is never deleted by make).
clean-data:
	rm -rf var/test
