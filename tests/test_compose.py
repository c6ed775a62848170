"""docker-compose.yml cannot run here (no Docker engine), so this checks it against the code:
every variable a service is given is a field of its settings class, ports agree with the
settings' defaults and the Dockerfiles, and the infrastructure it depends on is healthchecked.

A service whose settings module does not exist yet is skipped, not failed.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import secrets
import shlex
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import ValidationError

from broadsheet_articles.settings import DEV_EDITOR_PASSWORD
from broadsheet_devstack.kafka import kafka_version
from broadsheet_devstack.services import SERVICES, ServiceSpec, settings_env_names
from broadsheet_shared import devkeys

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
INFRA = ("kafka", "mongo", "mailpit")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    assert name in compose["services"], f"docker-compose.yml has no service {name!r}"
    found = compose["services"][name]
    assert isinstance(found, dict)
    return found


def environment(definition: dict[str, Any]) -> dict[str, str]:
    env = definition.get("environment", {})
    if isinstance(env, list):  # the "- NAME=value" form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published_ports(definition: dict[str, Any]) -> list[tuple[int, int]]:
    pairs = []
    for entry in definition.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        pairs.append((int(host.rpartition(":")[2]), int(container.split("/")[0])))
    return pairs


DOCKERFILE = ROOT / "services" / "Dockerfile"


def _image_host() -> str:
    found = re.findall(r"^\s+HOST=(\S+) \\$", DOCKERFILE.read_text(), flags=re.M)
    assert len(found) == 1, "services/Dockerfile sets no HOST in its ENV"
    return found[0]


# The address every service binds in its container, as the image's environment gives it.
IMAGE_HOST = _image_host()


def dockerfile_cmd() -> list[str]:
    commands = re.findall(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), flags=re.M)
    assert commands, "services/Dockerfile has no exec-form CMD"
    parsed = json.loads(commands[-1])
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def image_command(spec: ServiceSpec, build_args: dict[str, Any]) -> list[str]:
    """The container's command line for this service: the CMD's shell line with the image's
    environment (made of the build args) filled in."""
    shell, flag, line = dockerfile_cmd()
    assert (shell, flag) == ("sh", "-c")
    env = {
        "SERVICE_APP": f"broadsheet_{build_args['SERVICE']}.main:create_app",
        "SERVICE_PORT": str(build_args["PORT"]),
        "HOST": IMAGE_HOST,
    }
    text = DOCKERFILE.read_text()
    assert 'SERVICE_APP="broadsheet_${SERVICE}.main:create_app"' in text
    assert 'SERVICE_PORT="${PORT}"' in text
    words = shlex.split(line)
    assert words[0] == "exec"  # uvicorn is PID 1 and gets SIGTERM itself
    return [env.get(word[1:], word) if word.startswith("$") else word for word in words[1:]]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_service_env_names_are_settings_fields(compose: dict[str, Any], spec: ServiceSpec) -> None:
    module = pytest.importorskip(f"{spec.package}.settings", exc_type=ImportError)
    known = settings_env_names(module.Settings)
    env = environment(service(compose, spec.name))
    unknown = sorted(set(env) - known)
    assert not unknown, f"{spec.name}: no settings field reads {unknown}"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_service_ports_match_settings_and_dockerfile(
    compose: dict[str, Any], spec: ServiceSpec
) -> None:
    definition = service(compose, spec.name)
    port = spec.default_port
    assert environment(definition)[f"{spec.env_prefix}PORT"] == str(port)
    cmd = image_command(spec, definition["build"]["args"])
    assert cmd[:3] == ["uvicorn", "--factory", spec.app]
    assert cmd[cmd.index("--port") + 1] == str(port)
    # Reachable from other containers, and the settings know it (the same HOST).
    assert cmd[cmd.index("--host") + 1] == IMAGE_HOST == "0.0.0.0"
    assert f"127.0.0.1:{port}/readyz" in " ".join(definition["healthcheck"]["test"])
    module = pytest.importorskip(f"{spec.package}.settings", exc_type=ImportError)
    assert module.Settings.model_fields["port"].default == port


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_service_images_are_built_from_their_dockerfile(
    compose: dict[str, Any], spec: ServiceSpec
) -> None:
    build = service(compose, spec.name)["build"]
    assert build == {
        "context": ".",
        "dockerfile": "services/Dockerfile",
        "args": {"SERVICE": spec.name, "PORT": spec.default_port},
    }
    text = (ROOT / build["dockerfile"]).read_text()
    assert re.findall(r"^FROM (\S+)", text, flags=re.M) == ["python:3.11-slim"] * 2
    assert '--package "broadsheet-${SERVICE}"' in text
    # Each stage declares the args it uses (an ARG's scope ends at the next FROM).
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert "ARG SERVICE" in stages[0]
    assert "ARG SERVICE" in stages[1]
    assert "ARG PORT" in stages[1]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_services_wait_for_healthy_dependencies(compose: dict[str, Any], spec: ServiceSpec) -> None:
    depends = service(compose, spec.name)["depends_on"]
    expected = {"kafka", "mongo"} if spec.database else {"kafka"}
    if spec.name == "notifications":
        expected.add("mailpit")
    if spec.name == "gateway":
        expected |= {"articles", "comments", "notifications"}
    assert set(depends) == expected
    assert all(dep["condition"] == "service_healthy" for dep in depends.values())


@pytest.mark.parametrize("name", INFRA)
def test_infrastructure_has_healthchecks(compose: dict[str, Any], name: str) -> None:
    healthcheck = service(compose, name)["healthcheck"]
    assert healthcheck["test"]
    assert healthcheck["retries"] >= 3


def test_infrastructure_is_wired_consistently(compose: dict[str, Any]) -> None:
    kafka = environment(service(compose, "kafka"))
    assert service(compose, "kafka")["image"] == f"apache/kafka:{kafka_version()}"  # as local runs
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert kafka["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    padded = kafka["CLUSTER_ID"].split(":-")[-1].rstrip("}") + "=="
    assert len(base64.urlsafe_b64decode(padded)) == 16

    mongo = service(compose, "mongo")
    assert mongo["image"].startswith("mongo:8")
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])

    for spec in SERVICES:
        env = environment(service(compose, spec.name))
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        if spec.database:
            assert env["MONGO_URL"] == f"mongodb://mongo:27017/?replicaSet={replica_set}"
            assert env[f"{spec.env_prefix}MONGO_DATABASE"] == spec.database
        else:
            assert not any("MONGO" in name for name in env), spec.name

    notifications = environment(service(compose, "notifications"))
    assert notifications["NOTIFICATIONS_SMTP_HOST"] == "mailpit"
    assert notifications["NOTIFICATIONS_SMTP_PORT"] == "1025"
    # Reachable by a relay container, and not a privileged port (the image runs unprivileged).
    assert notifications["NOTIFICATIONS_INBOUND_SMTP_HOST"] == "0.0.0.0"
    assert 1024 < int(notifications["NOTIFICATIONS_INBOUND_SMTP_PORT"]) <= 65535
    gateway = environment(service(compose, "gateway"))
    for spec in SERVICES:
        if spec.name != "gateway":
            url = gateway[f"GATEWAY_{spec.name.upper()}_URL"]
            assert url == f"http://{spec.name}:{spec.default_port}"


def test_only_the_gateway_is_published_and_mailpit_on_this_machine_only(
    compose: dict[str, Any],
) -> None:
    for spec in SERVICES:
        expected = [(spec.default_port, spec.default_port)] if spec.name == "gateway" else []
        assert published_ports(service(compose, spec.name)) == expected, spec.name
    for name in INFRA:
        for entry in service(compose, name).get("ports", []):
            assert str(entry).startswith("127.0.0.1:"), f"{name} publishes {entry} to every host"
    assert published_ports(service(compose, "mailpit")) == [(8025, 8025)]
    gateway = service(compose, "gateway")
    env = environment(gateway)
    # Metrics on their own listener, inside the network only.
    assert env["GATEWAY_METRICS_PORT"] not in {str(p) for _, p in published_ports(gateway)}
    assert gateway["expose"] == [env["GATEWAY_METRICS_PORT"]]


def test_services_trust_the_compose_network_and_the_gateway_does_not(
    compose: dict[str, Any],
) -> None:
    [subnet] = [entry["subnet"] for entry in compose["networks"]["default"]["ipam"]["config"]]
    network = ip_network(subnet)
    for spec in SERVICES:
        env = environment(service(compose, spec.name))
        module = importlib.import_module(f"{spec.package}.settings")
        settings = module.Settings(**_settings_values(spec, env, _real_secrets(), "prod"))
        if spec.name == "gateway":
            assert not any(trusted.overlaps(network) for trusted in settings.trusted_proxies)
        else:
            assert settings.trusted_proxies == [network], spec.name


def _real_secrets() -> dict[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return {
        "JWT_PUBLIC_KEY": public.decode(),
        "ARTICLES_JWT_PRIVATE_KEY": private,
        "EDITOR_EMAIL": "chief@example.com",
        "EDITOR_PASSWORD": "a long and real password",
        "COMMENTS_SIGNING_SECRET": secrets.token_urlsafe(48),
        "COMMENTS_AVATAR_KEY": secrets.token_urlsafe(48),
        "NOTIFICATIONS_SIGNING_SECRET": secrets.token_urlsafe(48),
        "ADDRESS_DIGEST_KEY": secrets.token_urlsafe(48),
        "DATA_GRANT_KEY": secrets.token_urlsafe(48),
    }


def _embedded_secrets() -> dict[str, str]:
    return {
        "JWT_PUBLIC_KEY": devkeys.DEV_JWT_PUBLIC_KEY,
        "ARTICLES_JWT_PRIVATE_KEY": devkeys.DEV_JWT_PRIVATE_KEY,
        "EDITOR_PASSWORD": DEV_EDITOR_PASSWORD,
        "COMMENTS_SIGNING_SECRET": devkeys.DEV_SIGNING_SECRET,
        "COMMENTS_AVATAR_KEY": devkeys.DEV_AVATAR_KEY,
        "NOTIFICATIONS_SIGNING_SECRET": devkeys.DEV_SIGNING_SECRET,
        "ADDRESS_DIGEST_KEY": devkeys.DEV_ADDRESS_DIGEST_KEY,
        "DATA_GRANT_KEY": devkeys.DEV_DATA_GRANT_KEY,
    }


_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _settings_values(
    spec: ServiceSpec, env: dict[str, str], secrets_given: dict[str, str], environment: str
) -> dict[str, Any]:
    """The settings values a service's container gets: its compose environment with the required
    variables from ``secrets_given``, defaults filled in, and the image's HOST."""

    def fill(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name == "ENVIRONMENT":
            return environment
        if kind == "?":
            return secrets_given[name]
        return os.environ.get(name) or (rest if kind == "-" else "")

    values = {"HOST": IMAGE_HOST, **{key: _VARIABLE.sub(fill, value) for key, value in env.items()}}
    module = importlib.import_module(f"{spec.package}.settings")
    shared: frozenset[str] = module.Settings.SHARED_FIELDS
    fields: dict[str, Any] = {}
    for name in module.Settings.model_fields:
        for variable in (f"{spec.env_prefix}{name}".upper(), name.upper()):
            if variable in values and (variable.startswith(spec.env_prefix) or name in shared):
                raw = values[variable]
                fields[name] = json.loads(raw) if raw.startswith("[") else raw
                break
    return fields


@pytest.mark.parametrize("environment_name", ["prod", "dev"])
@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_no_service_starts_on_the_embedded_keys_whatever_environment_says(
    compose: dict[str, Any], spec: ServiceSpec, environment_name: str
) -> None:
    module = importlib.import_module(f"{spec.package}.settings")
    env = environment(service(compose, spec.name))
    real = module.Settings(**_settings_values(spec, env, _real_secrets(), environment_name))
    assert real.host == "0.0.0.0"
    for variable, value in _embedded_secrets().items():
        given = {**_real_secrets(), variable: value}
        if not any(variable in text for text in env.values()):
            continue  # this service is not given that one
        with pytest.raises(ValidationError, match=variable):
            module.Settings(**_settings_values(spec, env, given, environment_name))
