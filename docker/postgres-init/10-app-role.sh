#!/bin/sh
# Runs once, when the PostgreSQL volume is initialised (docker-entrypoint-initdb.d). Creates the
# application's role: it owns nothing, so it cannot disable the audit table's append-only trigger
# or TRUNCATE it. The owner role (POSTGRES_USER, "facerec") runs the migrations; after each
# `migrate` the compose `migrate` service runs `manage.py audit_db_roles`, which grants the app
# role read/write on the application's tables and only SELECT/INSERT on audit_auditevent.
set -eu
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE facerec_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE facerec TO facerec_app;
GRANT USAGE ON SCHEMA public TO facerec_app;
SQL
