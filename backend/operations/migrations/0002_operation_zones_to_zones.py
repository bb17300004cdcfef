"""Zone moved to the zones app: operations now point at zones.Zone. State-only: the table
(cameras_zone), the foreign key and the many-to-many table in the database are unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("zones", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="operation",
                    name="zone",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="zones.zone",
                    ),
                ),
                migrations.AlterField(
                    model_name="operation",
                    name="zones",
                    field=models.ManyToManyField(blank=True, related_name="operations", to="zones.zone"),
                ),
            ],
            database_operations=[],
        ),
    ]
