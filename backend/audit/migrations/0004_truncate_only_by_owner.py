"""The TRUNCATE opt-in (`audit.allow_truncate`) works only for the table's owner.

Migration 0002 let any session with TRUNCATE privilege empty the audit table by setting
`audit.allow_truncate = 'on'` first. The application no longer connects as the owner: its database
role may only SELECT and INSERT audit rows (`manage.py audit_db_roles`, run after `migrate`), so it
cannot TRUNCATE, UPDATE, DELETE or disable the trigger. The opt-in stays for the owner (Django's
test flush, run by the owner that created the test database): anyone who owns the table could
disable the trigger anyway, and verification would then find the chain broken.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
        AND current_setting('audit.allow_truncate', true) = 'on'
        AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
    THEN
        RETURN NULL;
    END IF;
    -- insufficient_privilege: a refusal, as a permission denial is (Django: ProgrammingError).
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_auditevent FROM PUBLIC;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('audit.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_auditevent_zone_to_zones")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
