"""The database itself refuses to change or remove audit events.

BEFORE UPDATE OR DELETE (per row) and BEFORE TRUNCATE (per statement) raise an exception, so
neither the application, a bug, nor an operator at a psql prompt can rewrite history without
first disabling the trigger (which needs the table owner or a superuser, and which verification
then detects as a broken chain).

One exception: TRUNCATE passes when the session has set `audit.allow_truncate = 'on'`. Django's
test flush truncates every table; only test settings (AUDIT_ALLOW_TRUNCATE, see apps.py) set it,
and anyone able to set it on a production database could equally disable the trigger.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('audit.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- insufficient_privilege: a refusal, as a permission denial is (Django: ProgrammingError).
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_event_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();

CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
