"""What the benchmarks share: the devstack servers, and one service or the whole platform on them.

    with service_on_devstack("comments", {"COMMENTS_…": "…"}) as (infra, service, env):
        ...  # measure
    with platform_on_devstack({"articles": {"ARTICLES_…": "…"}}) as (infra, gateway):
        ...  # measure through gateway.url

Services run under uvicorn (one worker each) with their own databases and topic prefix, logging
at WARNING; everything is stopped on the way out, also when the measurement fails.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory
from broadsheet_devstack.services import SERVICES, ServiceProcess

# Services start slower than in the tests: the benchmarks share the machine with other work.
READY_TIMEOUT = 90.0


def quiet_env(name: str) -> dict[str, str]:
    """Log levels for a benchmarked service: INFO lines per request would be measured too."""
    return {"LOG_LEVEL": "WARNING", f"{name.upper()}_LOG_LEVEL": "WARNING"}


@contextlib.contextmanager
def devstack(label: str) -> Iterator[Infra]:
    """Kafka, the database (``DEVSTACK_MONGO_SERVER`` when set) and the SMTP capture."""
    infra = Infra(Path(tempfile.mkdtemp(prefix=f"bench-{label}-")))
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()


@contextlib.contextmanager
def service_on_devstack(
    name: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Infra, ServiceProcess, dict[str, str]]]:
    """Yields the running infrastructure, the ready service and the service's environment
    (which names its database, ``<NAME>_MONGO_DATABASE``, and ``KAFKA_TOPIC_PREFIX``)."""
    with devstack(name) as infra:
        port = free_port()
        env = {
            **infra.service_env(name, f"b{secrets.token_hex(3)}", {name: port}),
            **quiet_env(name),
            **(extra_env or {}),
        }
        service = ServiceProcess(
            name,
            f"broadsheet_{name}.main:create_app",
            port=port,
            env=env,
            log_path=infra.log_dir / f"bench-{name}.log",
        )
        try:
            service.start()
            service.wait_ready(READY_TIMEOUT)
            yield infra, service, env
        finally:
            service.stop()


@contextlib.contextmanager
def platform_on_devstack(
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[tuple[Infra, ServiceProcess]]:
    """Every service, started in ``make run``'s order (the gateway last, wired to the others) as
    the end-to-end tests start them; yields the infrastructure and the ready gateway.
    ``extra_env`` adds variables per service name."""
    with devstack("platform") as infra:
        factory = ServiceFactory(infra, f"b{secrets.token_hex(3)}")
        try:
            for spec in SERVICES:
                factory(
                    spec.name,
                    env={**quiet_env(spec.name), **(extra_env or {}).get(spec.name, {})},
                    ready_timeout=READY_TIMEOUT,
                )
            yield infra, factory.started[-1]
        finally:
            factory.stop_all()
