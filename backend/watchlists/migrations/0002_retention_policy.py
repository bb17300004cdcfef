"""The retention policy for photos and templates of expired or removed listings."""

from django.db import migrations

KIND = "watchlist_biometrics_lapsed"
DAYS = 30
DESCRIPTION = "Photos and face templates of listings that expired or were removed (grace period for renewal)."


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    RetentionPolicy = apps.get_model("core", "RetentionPolicy")
    RetentionPolicy.objects.get_or_create(data_kind=KIND, defaults={"retention_days": DAYS, "description": DESCRIPTION})


def unseed(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("core", "RetentionPolicy").objects.filter(data_kind=KIND).delete()


class Migration(migrations.Migration):
    dependencies = [("watchlists", "0001_initial"), ("core", "0002_retentionpolicy")]

    operations = [migrations.RunPython(seed, unseed)]
