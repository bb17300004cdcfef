"""Retention policies of alert probe crops (the alert rows and their sightings stay as the record)."""

from django.db import migrations

POLICIES = {
    "alert_probes_dismissed": (30, "Probe crops of dismissed alerts (the alert row stays)."),
    "alert_probes_confirmed": (365, "Probe crops of confirmed alerts, a year after closing."),
}


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    RetentionPolicy = apps.get_model("core", "RetentionPolicy")
    for kind, (days, description) in POLICIES.items():
        RetentionPolicy.objects.get_or_create(
            data_kind=kind, defaults={"retention_days": days, "description": description}
        )


def unseed(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("core", "RetentionPolicy").objects.filter(data_kind__in=list(POLICIES)).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_initial"), ("core", "0002_retentionpolicy")]

    operations = [migrations.RunPython(seed, unseed)]
