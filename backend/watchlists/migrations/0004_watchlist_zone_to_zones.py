"""Zone moved to the zones app: watchlists now point at zones.Zone. State-only: the table
(cameras_zone) and the foreign key in the database are unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("watchlists", "0003_watchlist_threshold_calibration"),
        ("zones", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="watchlist",
                    name="zone",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="watchlists", to="zones.zone"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
