"""Zone moved to the zones app (zones.0001_initial): Camera.zone now points at zones.Zone, and
cameras.Zone leaves the state once every app's fields point at zones.Zone. State-only: the table
cameras_zone stays, owned by zones.Zone (Meta.db_table), with its rows and foreign keys."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0002_camera"),
        ("zones", "0001_initial"),
        ("accounts", "0004_user_zones_to_zones"),
        ("alerts", "0004_alert_zone_to_zones"),
        ("audit", "0003_auditevent_zone_to_zones"),
        ("operations", "0002_operation_zones_to_zones"),
        ("watchlists", "0004_watchlist_zone_to_zones"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="camera",
                    name="zone",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="cameras", to="zones.zone"
                    ),
                ),
                migrations.DeleteModel(name="Zone"),
            ],
            database_operations=[],
        ),
    ]
