"""Zone moved from the cameras app to its own zones app with state-only migrations. A database made
with the previous layout (Zone in cameras) must migrate with its data: same table, same rows and
ids, the foreign keys and many-to-many rows still resolve, and the content type (with its
permissions) follows the model. Runs on a separate, fresh database on the test server, made and
dropped here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

pytestmark = [pytest.mark.integration]

# The latest migration of every project app before the move (the layout with cameras.Zone).
OLD_PROJECT_LEAVES = [
    ("core", "0002_retentionpolicy"),
    ("cameras", "0002_camera"),
    ("accounts", "0003_api_tokens"),
    ("audit", "0002_append_only_triggers"),
    ("watchlists", "0003_watchlist_threshold_calibration"),
    ("operations", "0001_initial"),
    ("alerts", "0003_retention_policies"),
    ("evaluation", "0001_initial"),
]
PROJECT_APPS = {app for app, _ in OLD_PROJECT_LEAVES} | {"zones"}

ZONES = [
    {
        "code": "north",
        "name": "North",
        "station_name": "North Police Station",
        "centre_lat": 18.55,
        "centre_lon": 73.85,
        "boundary": {"type": "Polygon", "coordinates": [[[73.8, 18.5], [73.9, 18.5], [73.9, 18.6], [73.8, 18.5]]]},
    },
    {"code": "south", "name": "South", "station_name": "", "centre_lat": 18.45, "centre_lon": 73.86, "boundary": None},
]


@pytest.fixture
def scratch_alias(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A connection alias to a fresh, empty database on the test server (dropped afterwards)."""
    name = f"zone_migration_{uuid.uuid4().hex[:12]}"
    alias = f"scratch_{name}"
    with django_db_blocker.unblock():
        default = connections["default"]
        with default.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            connections.databases[alias] = {**connections.databases["default"], "NAME": name}
            try:
                yield alias
            finally:
                connections[alias].close()
                del connections[alias]
                del connections.databases[alias]
        finally:
            with default.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ScratchRouter:
    """While migrating, reads and writes without an explicit database (the RunPython seeds of the
    project's migrations use the default manager) go to the scratch database, not the test one."""

    alias = ""

    def db_for_read(self, model, **hints):  # type: ignore[no-untyped-def]
        return self.alias

    def db_for_write(self, model, **hints):  # type: ignore[no-untyped-def]
        return self.alias


def migrate(connection, targets: list[tuple[str, str]]) -> MigrationExecutor:  # type: ignore[no-untyped-def]
    ScratchRouter.alias = connection.alias
    executor = MigrationExecutor(connection)
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.ScratchRouter"]):
        executor.migrate(targets)
    return executor


def old_targets(executor: MigrationExecutor) -> list[tuple[str, str]]:
    """Leaves of the apps outside the project (auth, contenttypes, ...) plus the old project leaves."""
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in PROJECT_APPS]
    return others + OLD_PROJECT_LEAVES


def test_existing_database_migrates_zone_to_zones_app_with_its_data(scratch_alias: str) -> None:
    connection = connections[scratch_alias]

    # 1. A database with the previous layout, and rows in it.
    targets = old_targets(MigrationExecutor(connection))
    executor = migrate(connection, targets)
    old = executor.loader.project_state(targets).apps
    with pytest.raises(LookupError):
        old.get_model("zones", "Zone")
    OldZone = old.get_model("cameras", "Zone")
    assert OldZone._meta.db_table == "cameras_zone"
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    # What post_migrate made for cameras.Zone on a database of the old layout.
    zone_ct = ContentType.objects.using(scratch_alias).create(app_label="cameras", model="zone")
    permission = Permission.objects.using(scratch_alias).create(
        content_type=zone_ct, codename="view_zone", name="Can view zone"
    )
    north = OldZone.objects.using(scratch_alias).create(**ZONES[0])
    south = OldZone.objects.using(scratch_alias).create(**ZONES[1])
    user = old.get_model("accounts", "User").objects.using(scratch_alias).create(username="officer-north")
    user.zones.add(north)
    camera = (
        old.get_model("cameras", "Camera")
        .objects.using(scratch_alias)
        .create(code="cam-north-1", name="North gate", zone=north, latitude=18.55, longitude=73.85)
    )
    created_at = {z.pk: z.created_at for z in OldZone.objects.using(scratch_alias).all()}

    # 2. Migrate to the current layout (a fresh loader sees the migrations from the disk again).
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    assert any(app == "zones" for app, _ in leaves)
    executor = migrate(connection, leaves)
    new = executor.loader.project_state(leaves).apps

    # 3. The same rows, through the new layout.
    with pytest.raises(LookupError):
        new.get_model("cameras", "Zone")
    Zone = new.get_model("zones", "Zone")
    assert Zone._meta.db_table == "cameras_zone"
    by_id = {z.pk: z for z in Zone.objects.using(scratch_alias).all()}
    assert set(by_id) == {north.pk, south.pk}
    for pk, fields in ((north.pk, ZONES[0]), (south.pk, ZONES[1])):
        zone = by_id[pk]
        assert {name: getattr(zone, name) for name in fields} == fields
        assert zone.created_at == created_at[pk]

    new_camera = new.get_model("cameras", "Camera").objects.using(scratch_alias).get(pk=camera.pk)
    assert new_camera.zone.pk == north.pk
    assert new_camera.zone.code == "north"
    assert new_camera.zone._meta.label == "zones.Zone"
    new_user = new.get_model("accounts", "User").objects.using(scratch_alias).get(pk=user.pk)
    assert [z.code for z in new_user.zones.all()] == ["north"]
    assert [u.username for u in Zone.objects.using(scratch_alias).get(pk=north.pk).members.all()] == ["officer-north"]
    assert [c.code for c in Zone.objects.using(scratch_alias).get(pk=north.pk).cameras.all()] == ["cam-north-1"]

    # The table, its foreign keys and the many-to-many table are the ones the old layout made.
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        camera_constraints = connection.introspection.get_constraints(cursor, "cameras_camera")
        members_constraints = connection.introspection.get_constraints(cursor, "accounts_user_zones")
    assert "cameras_zone" in tables
    assert "zones_zone" not in tables
    assert ("cameras_zone", "id") in {c["foreign_key"] for c in camera_constraints.values() if c["foreign_key"]}
    assert ("cameras_zone", "id") in {c["foreign_key"] for c in members_constraints.values() if c["foreign_key"]}

    # The content type (and so its permissions) now names the zones app.
    NewContentType = new.get_model("contenttypes", "ContentType")
    zone_ct_now = NewContentType.objects.using(scratch_alias).get(pk=zone_ct.pk)
    assert (zone_ct_now.app_label, zone_ct_now.model) == ("zones", "zone")
    assert not NewContentType.objects.using(scratch_alias).filter(app_label="cameras", model="zone").exists()
    new_permission = new.get_model("auth", "Permission").objects.using(scratch_alias).get(pk=permission.pk)
    assert new_permission.content_type_id == zone_ct.pk
