"""docker-compose.yml is valid against the Compose specification's JSON schema (the copy vendored
by check-jsonschema; there is no Docker engine here) and describes every part the app needs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_schema() -> dict:  # type: ignore[type-arg]
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(schema_file.read_text())


def test_file_validates_against_the_compose_spec(compose: dict) -> None:  # type: ignore[type-arg]
    jsonschema.validate(compose, compose_schema())


def test_the_validation_really_rejects_a_broken_file(compose: dict) -> None:  # type: ignore[type-arg]
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "ports": "8000"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_every_part_of_the_platform_is_a_service(compose: dict) -> None:  # type: ignore[type-arg]
    assert {"postgres", "redis", "triton", "web", "worker", "beat", "ingest"} <= set(compose["services"])


def test_infrastructure_has_health_checks_and_volumes(compose: dict) -> None:  # type: ignore[type-arg]
    services = compose["services"]
    for name in ("postgres", "redis", "triton", "web"):
        assert "healthcheck" in services[name], name
    assert "pgvector" in services["postgres"]["image"]
    assert any(str(v).endswith("/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def test_triton_reserves_a_gpu_and_mounts_the_project_model_repository(compose: dict) -> None:  # type: ignore[type-arg]
    triton = compose["services"]["triton"]
    devices = triton["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in device["capabilities"] for device in devices)
    assert any(str(v).startswith("./inference/model_repository:") for v in triton["volumes"])
    assert (ROOT / triton["build"] / "Dockerfile").exists()


def test_app_services_get_the_three_service_addresses_and_production_settings(compose: dict) -> None:  # type: ignore[type-arg]
    for name in ("web", "worker", "beat", "ingest"):
        env = compose["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "backend.settings.production"
        for variable in ("DATABASE_URL", "REDIS_URL", "TRITON_URL", "DJANGO_SECRET_KEY"):
            assert env.get(variable), (name, variable)


APP_SERVICES = ("web", "worker", "beat", "ingest", "signer")


def test_only_migrate_connects_as_the_owner_and_the_app_role_is_created(compose: dict) -> None:  # type: ignore[type-arg]
    """Issue 18 #8: the app's processes connect as the role that may only SELECT/INSERT audit rows."""
    services = compose["services"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://facerec_app:"), name
    migrate = services["migrate"]
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://facerec:")
    assert "audit_db_roles" in " ".join(migrate["command"])
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    script = (ROOT / "docker" / "postgres-init" / "10-app-role.sh").read_text()
    assert "CREATE ROLE facerec_app LOGIN NOSUPERUSER" in script


def test_the_signing_key_is_mounted_only_in_the_signer(compose: dict) -> None:  # type: ignore[type-arg]
    services = compose["services"]
    holders = {
        name for name, spec in services.items() if any(str(v).startswith("audit-key:") for v in spec.get("volumes", []))
    }
    assert holders == {"signer"}
    for name in APP_SERVICES:
        checkpoints = [str(v) for v in services[name]["volumes"] if str(v).startswith("audit-checkpoints:")]
        assert checkpoints == (
            ["audit-checkpoints:/audit-checkpoints"]
            if name == "signer"
            else ["audit-checkpoints:/audit-checkpoints:ro"]
        ), name
        assert services[name]["environment"]["FR_AUDIT_SIGNING_KEY_PATH"].startswith("/audit-key/")
    signer = " ".join(services["signer"]["command"])
    assert "-Q audit" in signer and "recognition" not in signer
    assert "audit" not in " ".join(services["worker"]["command"]).split("-Q", 1)[1]
