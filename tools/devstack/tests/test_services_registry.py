"""The service list that `make run` and the fixtures start from, checked against the services'
own settings classes (each check skips only while that service's settings module is missing)."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from broadsheet_devstack import services
from broadsheet_devstack.services import SERVICES, Endpoints, service_env, settings_env_names

pytestmark = pytest.mark.unit


def endpoints(prefix: str = "", inbound_smtp_port: int = 2525) -> Endpoints:
    return Endpoints(
        kafka_bootstrap="127.0.0.1:9092",
        mongo_url="mongodb://127.0.0.1:27017/?directConnection=true",
        smtp_host="127.0.0.1",
        smtp_port=1025,
        data_dir=Path("/data"),
        prefix=prefix,
        inbound_smtp_port=inbound_smtp_port,
    )


def test_ports_and_order() -> None:
    assert [(s.name, s.default_port) for s in SERVICES] == [
        ("articles", 8001),
        ("comments", 8002),
        ("notifications", 8003),
        ("gateway", 8000),  # last: it fronts the others
    ]
    assert services.get("comments").app == "broadsheet_comments.main:create_app"
    with pytest.raises(KeyError, match="unknown service 'nope'"):
        services.get("nope")


def test_prefix_isolates_topics_and_databases() -> None:
    env = service_env(services.get("articles"), endpoints("t1234abcd"))
    assert env["KAFKA_TOPIC_PREFIX"] == "t1234abcd."
    assert env["ARTICLES_MONGO_DATABASE"] == "t1234abcd_broadsheet_articles"
    plain = service_env(services.get("articles"), endpoints())
    assert plain["KAFKA_TOPIC_PREFIX"] == ""
    assert plain["ARTICLES_MONGO_DATABASE"] == "broadsheet_articles"


def test_notifications_gets_an_inbound_smtp_port_only_when_one_is_given() -> None:
    env = service_env(services.get("notifications"), endpoints())
    assert env["NOTIFICATIONS_INBOUND_SMTP_PORT"] == "2525"
    assert env["NOTIFICATIONS_INBOUND_SMTP_HOST"] == "127.0.0.1"
    off = service_env(services.get("notifications"), endpoints(inbound_smtp_port=0))
    assert "NOTIFICATIONS_INBOUND_SMTP_PORT" not in off


def test_port_can_be_moved_by_environment() -> None:
    assert services.get("gateway").port_from({"GATEWAY_PORT": "9000"}) == 9000
    assert services.get("gateway").port_from({}) == 8000


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_every_variable_given_to_a_service_is_a_settings_field(spec: services.ServiceSpec) -> None:
    module = pytest.importorskip(f"{spec.package}.settings", exc_type=ImportError)
    settings_cls = module.Settings
    known = settings_env_names(settings_cls)
    unknown = set(service_env(spec, endpoints())) - known
    assert not unknown, f"{spec.name} has no settings field for {sorted(unknown)}"
    # The port the supervisor and compose use is the settings' default port.
    assert settings_cls.model_fields["port"].default == spec.default_port


def test_settings_helper_reads_prefix_and_shared_names() -> None:
    shared = importlib.import_module("broadsheet_shared.settings")

    class Demo(shared.DatabaseServiceSettings):  # type: ignore[misc,name-defined]
        model_config = {"env_prefix": "DEMO_"}
        smtp_port: int = 1025

    names = settings_env_names(Demo)
    assert {"DEMO_SMTP_PORT", "DEMO_MONGO_URL", "MONGO_URL", "DEMO_PORT"} <= names
    assert "SMTP_PORT" not in names


def test_every_service_creates_topics_with_as_many_replicas_as_there_are_brokers() -> None:
    single = endpoints()
    cluster = dataclasses.replace(single, kafka_replicas=3)
    for spec in SERVICES:
        assert service_env(spec, single)["KAFKA_REPLICATION_FACTOR"] == "1"
        assert service_env(spec, cluster)["KAFKA_REPLICATION_FACTOR"] == "3"
