"""Zone moved to the zones app: the users' zones now point at zones.Zone. State-only: the table
(cameras_zone), the foreign key and the many-to-many table in the database are unchanged."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_tokens"),
        ("zones", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="user",
                    name="zones",
                    field=models.ManyToManyField(blank=True, related_name="members", to="zones.zone"),
                ),
            ],
            database_operations=[],
        ),
    ]
