"""What the single-service benchmarks share: the devstack servers and one service on them.

    with service_on_devstack("comments", {"COMMENTS_…": "…"}) as (infra, service, env):
        ...  # measure

The service runs under uvicorn (one worker) with its own database and topic prefix, logging at
WARNING; everything is stopped on the way out, also when the measurement fails.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra
from broadsheet_devstack.services import ServiceProcess


@contextlib.contextmanager
def service_on_devstack(
    name: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Infra, ServiceProcess, dict[str, str]]]:
    """Yields the running infrastructure, the ready service and the service's environment
    (which names its database, ``<NAME>_MONGO_DATABASE``, and ``KAFKA_TOPIC_PREFIX``)."""
    infra = Infra(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")))
    prefix = f"b{secrets.token_hex(3)}"
    service: ServiceProcess | None = None
    try:
        infra.start()
        port = free_port()
        upper = name.upper()
        env = {
            **infra.service_env(name, prefix, {name: port}),
            "LOG_LEVEL": "WARNING",
            f"{upper}_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        service = ServiceProcess(
            name,
            f"broadsheet_{name}.main:create_app",
            port=port,
            env=env,
            log_path=infra.log_dir / f"bench-{name}.log",
        )
        service.start()
        service.wait_ready(90)
        yield infra, service, env
    finally:
        if service is not None:
            service.stop()
        infra.stop()
