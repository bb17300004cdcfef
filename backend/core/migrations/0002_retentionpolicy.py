import django.core.validators
from django.db import migrations, models

DEFAULTS = [
    ("audit_events", 2555, "Audit log (7 years). Kept longest; append-only, never purged by the application."),
    ("login_attempts", 90, "Failed and successful login attempt records (django-axes)."),
    ("sessions", 1, "Expired login sessions (removed one day after they expire)."),
    ("api_tokens_revoked", 365, "Revoked or expired API tokens, a year after revocation or expiry."),
]


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    RetentionPolicy = apps.get_model("core", "RetentionPolicy")
    for kind, days, description in DEFAULTS:
        RetentionPolicy.objects.get_or_create(
            data_kind=kind, defaults={"retention_days": days, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_pgvector")]

    operations = [
        migrations.CreateModel(
            name="RetentionPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("data_kind", models.SlugField(max_length=64, unique=True)),
                (
                    "retention_days",
                    models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)]),
                ),
                ("description", models.CharField(max_length=255)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["data_kind"], "verbose_name_plural": "retention policies"},
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
