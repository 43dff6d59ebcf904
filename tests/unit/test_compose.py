"""docker-compose.yml cannot run here (no Docker engine): check it against the Compose
specification's JSON schema and against what onetrip needs from it."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
REPLICATED = ("approval", "notify")
KEYS = ("ONETRIP_SECRET_KEY", "ONETRIP_CIPHER_KEY", "ONETRIP_AUDIT_KEY", "ONETRIP_BUS_KEY")
SECRETS = (*KEYS, "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD",
           *(f"ONETRIP_BUS_PASSWORD_{u}" for u in ("CATALOGUE", "APPROVAL", "NOTIFY", "AUDIT",
                                                   "GATEWAY", "CAMPUS")))


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def application_services() -> list[str]:
    """Every service package with a nameko service, e.g. catalogue, approval, gateway."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/service.py"))


def validate_against_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        check=False,  # the caller asserts on the result, showing its output
        text=True,
        timeout=60,
    )


def test_the_compose_file_follows_the_compose_specification() -> None:
    # Given the compose file as committed
    # When check-jsonschema validates it with its vendored Compose specification schema
    result = validate_against_compose_spec(COMPOSE_FILE)
    # Then it passes, and the file uses the spec's form (no obsolete `version:`)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "version" not in compose()


@pytest.mark.parametrize(
    ("mistake", "original", "broken"),
    [
        ("misspelt condition", "condition: service_healthy", "condition: service_healty"),
        ("misspelt services key", "\nservices:\n", "\nservises:\n"),
        ("ports as a mapping", '- "127.0.0.1:8000:8000"', "gateway_port: 8000"),
    ],
)
def test_a_broken_compose_file_fails_validation(
    tmp_path: Path, mistake: str, original: str, broken: str
) -> None:
    # Given a copy of the compose file with one mistake in it
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert original in text, f"the compose file no longer contains {original!r}"
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(text.replace(original, broken, 1), encoding="utf-8")
    # When it is validated
    result = validate_against_compose_spec(copy)
    # Then the validation fails
    assert result.returncode != 0, f"{mistake} passed validation:\n{result.stdout}"


def test_every_service_and_the_gateway_run_from_the_one_dockerfile() -> None:
    # Given the compose services
    services = compose()["services"]
    # Then each service package has a compose service built from the same Dockerfile
    for name in application_services():
        assert name in services, f"services/{name} has no compose service"
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert service["command"] == ["onetrip-service", name]
    assert services["bootstrap"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert services["bootstrap"]["command"] == ["python", "-m", "shared.bootstrap"]


def test_services_start_only_once_the_broker_the_database_and_the_schemas_are_ready() -> None:
    services = compose()["services"]
    # Then the servers have health checks
    assert "check_port_connectivity" in services["rabbitmq"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["bootstrap"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    # And every onetrip service waits for them and for the one-shot bootstrap
    for name in application_services():
        assert services[name]["depends_on"] == {
            "rabbitmq": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "bootstrap": {"condition": "service_completed_successfully"},
        }, name


def test_services_are_configured_from_the_environment_only() -> None:
    services = compose()["services"]
    for name in application_services():
        environment = services[name]["environment"]
        assert environment["AMQP_URI"].endswith("@rabbitmq:5672/"), name
        assert environment["DATABASE_URL"].endswith("@postgres:5432/onetrip"), name
        assert "ONETRIP_DEMO" in environment and "ONETRIP_SECRET_KEY" in environment, name
        assert "files:/data/files" in services[name]["volumes"], name
    assert services["gateway"]["environment"]["HOST"] == "0.0.0.0"
    assert services["gateway"]["environment"]["PORT"] == "8000"
    assert {"postgres-data", "files"} <= set(compose()["volumes"])


def test_approval_and_notify_can_run_several_replicas() -> None:
    services = compose()["services"]
    for name in REPLICATED:
        replicas = services[name]["deploy"]["replicas"]
        assert replicas == f"${{{name.upper()}_REPLICAS:-1}}"
        assert "container_name" not in services[name]  # a fixed name forbids replicas


def test_the_gateway_is_published_on_loopback_and_checked_on_healthz() -> None:
    gateway = compose()["services"]["gateway"]
    assert gateway["ports"] == ["127.0.0.1:8000:8000"]
    assert any("/healthz" in part for part in gateway["healthcheck"]["test"])


def test_the_dockerfile_installs_the_distribution_and_runs_the_console_script() -> None:
    # Given the Dockerfile and the console script the distribution declares
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    # Then the image is python 3.11 slim with the system packages, the package, and the script
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    for package in ("libpq5", "graphviz", "fonts-noto-cjk"):
        assert package in dockerfile, package
    assert "pip install ." in dockerfile
    assert scripts["onetrip-service"] == "shared.runner:main"
    assert 'CMD ["onetrip-service", "gateway"]' in dockerfile


def docker_compose_config(**secrets: str) -> subprocess.CompletedProcess[str]:
    # Debian's docker-compose 1.29 also interpolates variables and checks references;
    # `make test` installs it (scripts/ensure-system-packages test).
    assert shutil.which("docker-compose") is not None, (
        "docker-compose is not installed: run `make test`, or apt-get install docker-compose"
    )
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **secrets},
        cwd=ROOT,
    )


def test_docker_compose_accepts_the_file() -> None:
    result = docker_compose_config(**dict.fromkeys(SECRETS, "a-test-secret"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_run_without_each_key_and_password(missing: str) -> None:
    # Given every key and password set but one
    given = {name: "a-test-secret" for name in SECRETS if name != missing}
    # When docker-compose reads the file
    result = docker_compose_config(**given)
    # Then it refuses, naming the missing one
    assert result.returncode != 0 and missing in result.stderr, result.stderr


def test_compose_seeds_no_demo_accounts_and_gives_each_service_only_its_bus_password() -> None:
    services = compose()["services"]
    for name in application_services():
        environment = services[name]["environment"]
        assert environment["ONETRIP_DEMO"] == "${ONETRIP_DEMO:-0}", name
        assert all(environment[key].startswith(f"${{{key}:?") for key in KEYS), name
        assert environment["AMQP_URI"] == f"amqp://{name}@rabbitmq:5672/", name
        passwords = {key for key in environment if key.startswith("ONETRIP_BUS_PASSWORD_")}
        assert passwords == {f"ONETRIP_BUS_PASSWORD_{name.upper()}"}, name
        assert "RABBITMQ_PASSWORD" not in str(environment), name  # the administrator's
