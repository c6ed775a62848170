"""What the benchmarks share: the devstack servers, and one service or the whole platform on them.

    with service_on_devstack("comments", {"COMMENTS_…": "…"}) as (infra, service, env):
        ...  # measure
    with platform_on_devstack({"articles": {"ARTICLES_…": "…"}}) as (infra, gateway):
        ...  # measure through gateway.url
    with platform_stack() as (infra, factory):
        ...  # factory.started: every service; stack_pids(infra, factory.started) for memory

Services run under uvicorn (one worker each) with their own databases and topic prefix, logging
at WARNING; everything is stopped on the way out, also when the measurement fails.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory
from broadsheet_devstack.services import SERVICES, ServiceProcess

# Services start slower than in the tests: the benchmarks share the machine with other work.
READY_TIMEOUT = 90.0


# A bench sends everything from one address: Broadsheet's per-address limits are lifted, as an
# operator would for a known busy source and as each bench does with its peer's own checks.
LIFTED_LIMITS: Mapping[str, Mapping[str, str]] = {
    "gateway": {"GATEWAY_WRITE_RATE_LIMIT": "1000000000"},
    "comments": {
        "COMMENTS_RATE_LIMIT_PER_CLIENT": "1000000000",
        "COMMENTS_RATE_LIMIT_PER_EMAIL": "1000000000",
    },
}


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
def platform_stack(
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[tuple[Infra, ServiceFactory]]:
    """Every service, started in ``make run``'s order (the gateway last, wired to the others) as
    the end-to-end tests start them; yields the infrastructure and the factory, whose
    ``started`` lists the services (the gateway last). ``extra_env`` adds variables per service
    name."""
    with devstack("platform") as infra:
        factory = ServiceFactory(infra, f"b{secrets.token_hex(3)}")
        try:
            for spec in SERVICES:
                factory(
                    spec.name,
                    env={**quiet_env(spec.name), **(extra_env or {}).get(spec.name, {})},
                    ready_timeout=READY_TIMEOUT,
                )
            yield infra, factory
        finally:
            factory.stop_all()


@contextlib.contextmanager
def platform_on_devstack(
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[tuple[Infra, ServiceProcess]]:
    """``platform_stack``, yielding the infrastructure and the ready gateway."""
    with platform_stack(extra_env) as (infra, factory):
        yield infra, factory.started[-1]


def stack_pids(infra: Infra, services: Iterable[ServiceProcess]) -> list[int]:
    """Broadsheet's processes for its memory figure: Kafka's JVM, the database server and the
    services (the SMTP capture stands in for a mail server, which no peer's figure counts)."""
    processes = [infra.kafka.process, infra.database.process]
    pids = [p.pid for p in processes if p is not None] + [s.pid for s in services]
    return [pid for pid in pids if pid is not None]
