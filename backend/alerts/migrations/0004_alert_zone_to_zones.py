"""Zone moved to the zones app: alerts now point at zones.Zone. State-only: the table
(cameras_zone) and the foreign key in the database are unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_retention_policies"),
        ("zones", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="alert",
                    name="zone",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="alerts", to="zones.zone"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
