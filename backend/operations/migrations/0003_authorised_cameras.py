"""Operation coverage fixed at authorisation (issue 18 #14).

`authorised_cameras` holds the cameras an operation covered when it was authorised; coverage from
then on is those cameras (while the zones, groups or list still cover them). Existing authorised,
active and ended operations get what they cover today. A trigger refuses to add to the set once
the operation is past `requested`, so nobody (the app, a bug, a script) extends a running
operation without a new authorisation."""

from django.db import migrations, models
from django.db.models import Q

FORWARD = """
CREATE FUNCTION operation_refuse_coverage_growth() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM operations_operation WHERE id = NEW.operation_id) <> 'requested' THEN
        RAISE EXCEPTION 'operation % is authorised: its cameras are fixed (a new request is needed)',
            NEW.operation_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER operation_authorised_cameras_fixed
    BEFORE INSERT OR UPDATE ON operations_operation_authorised_cameras
    FOR EACH ROW EXECUTE FUNCTION operation_refuse_coverage_growth();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS operation_authorised_cameras_fixed ON operations_operation_authorised_cameras;
DROP FUNCTION IF EXISTS operation_refuse_coverage_growth();
"""


def fix_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    Operation = apps.get_model("operations", "Operation")
    Camera = apps.get_model("cameras", "Camera")
    for operation in Operation.objects.exclude(status="requested"):
        covered = Q(zone__in=operation.zones.values("pk")) | Q(pk__in=operation.cameras.values("pk"))
        if operation.camera_groups:
            covered |= Q(group__in=operation.camera_groups)
        operation.authorised_cameras.set(Camera.objects.filter(covered))


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0003_move_zone_to_zones"),
        ("operations", "0002_operation_zones_to_zones"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="authorised_cameras",
            field=models.ManyToManyField(
                blank=True, editable=False, related_name="authorised_operations", to="cameras.camera"
            ),
        ),
        migrations.RunPython(fix_existing, migrations.RunPython.noop),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
