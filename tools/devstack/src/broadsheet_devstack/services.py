"""The Broadsheet services, their ports and environment: the one list ``make run`` and the tests
start from, and the launcher that runs one service as a uvicorn child process.

Environment variable names follow the services' settings classes (pydantic-settings): prefixed
``ARTICLES_``, ``COMMENTS_``, ``NOTIFICATIONS_``, ``GATEWAY_`` plus field name, and the shared
infrastructure fields also unprefixed (see :mod:`broadsheet_shared.settings`). A unit test
checks these names against each ``Settings`` class.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broadsheet_devstack.processes import (
    ManagedProcess,
    ensure_port_free,
    http_ok,
    wait_until,
)

DEFAULT_EDITOR_EMAIL = "editor@broadsheet.local"
DEFAULT_EDITOR_PASSWORD = "broadsheet-dev-password"  # noqa: S105 - a printed local dev default


@dataclass(frozen=True)
class Endpoints:
    """Where the infrastructure and every service listen, and how runs are kept apart."""

    kafka_bootstrap: str
    mongo_url: str
    smtp_host: str
    smtp_port: int
    data_dir: Path
    ports: Mapping[str, int] = field(default_factory=dict)  # service name -> port
    host: str = "127.0.0.1"
    environment: str = "dev"
    log_level: str = "INFO"
    # Tests set a unique prefix: topics, consumer groups and databases then never collide.
    prefix: str = ""
    editor_email: str = DEFAULT_EDITOR_EMAIL
    editor_password: str = DEFAULT_EDITOR_PASSWORD
    # The notifications service's inbound SMTP (mailto: unsubscribes); 0: not started.
    inbound_smtp_port: int = 0
    # Copies of each topic the services create: the number of Kafka nodes.
    kafka_replicas: int = 1

    @property
    def topic_prefix(self) -> str:
        return f"{self.prefix}." if self.prefix else ""

    def port(self, service: str) -> int:
        return self.ports.get(service, get(service).default_port)

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.port(service)}"

    def database(self, spec: ServiceSpec) -> str | None:
        if spec.database is None:
            return None
        return f"{self.prefix}_{spec.database}" if self.prefix else spec.database


def _no_extra_env(endpoints: Endpoints) -> dict[str, str]:
    return {}


def _articles_env(endpoints: Endpoints) -> dict[str, str]:
    return {
        "ARTICLES_EDITOR_EMAIL": endpoints.editor_email,
        "ARTICLES_EDITOR_PASSWORD": endpoints.editor_password,
    }


def _notifications_env(endpoints: Endpoints) -> dict[str, str]:
    env = {
        "NOTIFICATIONS_SMTP_HOST": endpoints.smtp_host,
        "NOTIFICATIONS_SMTP_PORT": str(endpoints.smtp_port),
    }
    if endpoints.inbound_smtp_port:
        env["NOTIFICATIONS_INBOUND_SMTP_HOST"] = endpoints.host
        env["NOTIFICATIONS_INBOUND_SMTP_PORT"] = str(endpoints.inbound_smtp_port)
    return env


def _gateway_env(endpoints: Endpoints) -> dict[str, str]:
    return {
        f"GATEWAY_{name.upper()}_URL": endpoints.url(name)
        for name in ("articles", "comments", "notifications")
    }


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    default_port: int
    database: str | None  # the service's own MongoDB database
    extra_env: Callable[[Endpoints], dict[str, str]] = _no_extra_env
    app_factory: str | None = None  # default: <package>.main:create_app

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    @property
    def package(self) -> str:
        return f"broadsheet_{self.name}"

    @property
    def app(self) -> str:
        """The uvicorn app factory."""
        return self.app_factory or f"{self.package}.main:create_app"

    def port_from(self, environ: Mapping[str, str]) -> int:
        """``<PREFIX>PORT`` if set (``GATEWAY_PORT=9000 make run``), else the default."""
        value = environ.get(f"{self.env_prefix}PORT")
        return int(value) if value else self.default_port


# In start order: the gateway last, after the services it fronts.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("articles", 8001, "broadsheet_articles", _articles_env),
    ServiceSpec("comments", 8002, "broadsheet_comments"),
    ServiceSpec("notifications", 8003, "broadsheet_notifications", _notifications_env),
    ServiceSpec("gateway", 8000, None, _gateway_env),
)


def get(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}; known: {', '.join(s.name for s in SERVICES)}")


def shared_env(endpoints: Endpoints) -> dict[str, str]:
    """The unprefixed variables every service reads (ServiceSettings.SHARED_FIELDS)."""
    return {
        "ENVIRONMENT": endpoints.environment,
        "LOG_LEVEL": endpoints.log_level,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": endpoints.topic_prefix,
        "KAFKA_REPLICATION_FACTOR": str(endpoints.kafka_replicas),
        "PUBLIC_BASE_URL": endpoints.url("gateway"),
        "DATA_DIR": str(endpoints.data_dir),
    }


def service_env(spec: ServiceSpec, endpoints: Endpoints) -> dict[str, str]:
    """Everything one service process needs, on top of the inherited environment."""
    env = shared_env(endpoints)
    env[f"{spec.env_prefix}HOST"] = endpoints.host
    env[f"{spec.env_prefix}PORT"] = str(endpoints.port(spec.name))
    database = endpoints.database(spec)
    if database is not None:
        env["MONGO_URL"] = endpoints.mongo_url
        env[f"{spec.env_prefix}MONGO_DATABASE"] = database
    env.update(spec.extra_env(endpoints))
    return env


def settings_env_names(settings_cls: Any) -> set[str]:
    """Every environment variable name pydantic-settings reads for a settings class: prefix +
    field name, the shared fields (``SHARED_FIELDS``) also unprefixed, and explicit aliases.
    Used by the tests that check this module and docker-compose.yml against the services."""
    prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()
    shared: frozenset[str] = getattr(settings_cls, "SHARED_FIELDS", frozenset())
    names: set[str] = set()
    for name, info in settings_cls.model_fields.items():
        names.add(f"{prefix}{name}".upper())
        if name in shared:
            names.add(name.upper())
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias.upper())
    return names


class ServiceProcess:
    """One ASGI app served by uvicorn in a child process, ready when ``ready_path`` answers 200.

    ``make run`` and the ``service_process`` test fixture both use this class.
    """

    def __init__(
        self,
        name: str,
        app: str,
        *,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        factory: bool = True,
        ready_path: str = "/readyz",
        python_path: Sequence[Path] = (),
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.app = app
        self.host = host
        self.port = port
        self.log_path = log_path
        self.ready_path = ready_path
        self.env: dict[str, str] = {"PYTHONUNBUFFERED": "1", **(env or {})}
        if python_path:
            inherited = [self.env.get("PYTHONPATH") or os.environ.get("PYTHONPATH", "")]
            self.env["PYTHONPATH"] = os.pathsep.join(
                [*map(str, python_path), *filter(None, inherited)]
            )
        argv = [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port)]
        if factory:
            argv.append("--factory")
        # Long-lived responses (server-sent events) would otherwise hold a stop forever.
        argv += ["--timeout-graceful-shutdown", "5"]
        self._process = ManagedProcess(
            name, argv, log_path=log_path, env=self.env, stop_timeout=stop_timeout
        )

    def __repr__(self) -> str:
        return f"<ServiceProcess {self.name} {self.url} pid={self.pid}>"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def process(self) -> ManagedProcess:
        return self._process

    def start(self) -> None:
        """Start the process. Does not wait: see wait_ready."""
        ensure_port_free(self.name, self.host, self.port)
        self._process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        url = f"{self.url}{self.ready_path}"
        wait_until(
            lambda: http_ok(url, timeout=1.0),
            timeout=timeout,
            what=f"ready ({url} answering 200)",
            process=self._process,
            interval=0.2,
        )

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful: SIGTERM, then SIGKILL after the timeout."""
        return self._process.stop(timeout)

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` (default SIGKILL: a crash) and wait until the process is gone."""
        return self._process.kill(sig)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop if still running, start again on the same port with the same env, wait ready."""
        self._process.stop()
        self.start()
        self.wait_ready(timeout)
