"""Zone moves from the cameras app to its own app without touching the database: the model keeps
its table `cameras_zone` (Meta.db_table), so the CreateModel is state-only. It runs after the
migration of the cameras app that created the table; the apps whose models point at Zone switch
their fields to zones.Zone (state-only too) before cameras.0003 drops cameras.Zone from the state.

The content type row of cameras.zone is renamed to zones.zone, so its permissions (and anything
else that refers to the content type id) follow the model."""

import django.core.validators
from django.db import migrations, models


def rename_content_type(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if ContentType.objects.using(db).filter(app_label="zones", model="zone").exists():
        return
    ContentType.objects.using(db).filter(app_label="cameras", model="zone").update(app_label="zones")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("cameras", "0002_camera"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Zone",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "code",
                            models.SlugField(
                                help_text="Short stable code, e.g. 'shivajinagar'.", max_length=32, unique=True
                            ),
                        ),
                        ("name", models.CharField(max_length=120, unique=True)),
                        ("station_name", models.CharField(blank=True, max_length=160)),
                        (
                            "centre_lat",
                            models.FloatField(
                                validators=[
                                    django.core.validators.MinValueValidator(-90),
                                    django.core.validators.MaxValueValidator(90),
                                ]
                            ),
                        ),
                        (
                            "centre_lon",
                            models.FloatField(
                                validators=[
                                    django.core.validators.MinValueValidator(-180),
                                    django.core.validators.MaxValueValidator(180),
                                ]
                            ),
                        ),
                        ("boundary", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "ordering": ["name"],
                        "db_table": "cameras_zone",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, migrations.RunPython.noop),
    ]
