"""Pytest fixtures for integration and end-to-end tests, against real servers, never mocks.

Registered by the repository's root ``conftest.py``. Fixtures:

``infra`` (session)
    Real Kafka, the database and SMTP capture on free ports in a temporary ``DATA_DIR``,
    started the first time a test asks for it (a unit-only run starts nothing) and stopped at
    the end of the session. See :class:`Infra`.
``kafka_cluster`` (function)
    A three-node Kafka cluster of its own (KRaft, every topic with 3 replicas and
    ``min.insync.replicas=2``) on free ports, for the tests that kill a broker; stopped after
    the test. See :class:`~broadsheet_devstack.kafka.KafkaCluster`.
``unique_prefix`` (function)
    A short random string (``t`` + 8 hex digits): use it for topic prefixes, consumer groups and
    database names so tests never see each other's data.
``service_process`` (function)
    A factory that starts a service (or any ASGI app) with uvicorn in a child process on a free
    port, waits for ``/readyz`` and returns a :class:`~broadsheet_devstack.services.ServiceProcess`
    (``.url``, ``.kill()``, ``.restart()``, ``.stop()``). Everything it started is stopped after
    the test. See :class:`ServiceFactory`.

Tests that use ``infra`` are marked ``integration`` unless marked ``integration``, ``e2e`` or
``browser`` already, so ``-m "not integration and not e2e and not browser"`` starts no server.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from broadsheet_devstack import services
from broadsheet_devstack.database import DatabaseServer
from broadsheet_devstack.kafka import KafkaCluster, KafkaServer
from broadsheet_devstack.mailstore import StoredMessage, read_messages
from broadsheet_devstack.processes import free_port
from broadsheet_devstack.services import Endpoints, ServiceProcess, service_env, shared_env
from broadsheet_devstack.smtp_capture import SmtpCapture

__all__ = ["Infra", "ServiceFactory", "ServiceProcess", "StoredMessage"]

_SERVER_MARKERS = frozenset({"integration", "e2e", "browser"})
MailPredicate = Callable[[StoredMessage], bool]


class Infra:
    """The session's Kafka, database and SMTP capture, and helpers around them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_dir = data_dir / "logs"
        self.kafka = KafkaServer(
            data_dir / "kafka",
            log_path=self.log_dir / "kafka.log",
            port=free_port(),
            controller_port=free_port(),
        )
        self.database = DatabaseServer(
            data_dir / "db", log_path=self.log_dir / "database.log", port=free_port()
        )
        self.smtp = SmtpCapture(
            data_dir / "mail",
            log_path=self.log_dir / "smtp-capture.log",
            port=free_port(),
            web_port=free_port(),
        )

    # -- where things are -------------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def mongo_url(self) -> str:
        return self.database.url

    @property
    def smtp_host(self) -> str:
        return self.smtp.host

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def maildir(self) -> Path:
        return self.smtp.maildir

    @property
    def mail_web_url(self) -> str:
        return self.smtp.web_url

    def endpoints(self, prefix: str = "", ports: Mapping[str, int] | None = None) -> Endpoints:
        return Endpoints(
            kafka_bootstrap=self.kafka_bootstrap,
            mongo_url=self.mongo_url,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            data_dir=self.data_dir,
            ports=dict(ports or {}),
            environment="test",
            prefix=prefix,
        )

    def env(self, prefix: str = "") -> dict[str, str]:
        """The shared, unprefixed variables for a service process (MONGO_URL,
        KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX = ``f"{prefix}."`` when given, DATA_DIR …)."""
        endpoints = self.endpoints(prefix)
        return {**shared_env(endpoints), "MONGO_URL": endpoints.mongo_url}

    def service_env(
        self, service: str, prefix: str = "", ports: Mapping[str, int] | None = None
    ) -> dict[str, str]:
        """Everything ``service`` needs, as ``make run`` would give it, pointed at this infra."""
        return service_env(services.get(service), self.endpoints(prefix, ports))

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        components = (self.kafka, self.database, self.smtp)
        for component in components:
            component.start()
        for component in components:
            component.wait_ready(120.0)

    def stop(self) -> None:
        for component in (self.smtp, self.database, self.kafka):
            component.stop()

    def stop_smtp(self) -> None:
        """Stop SMTP capture: senders now get 'connection refused'. Mail already stored stays."""
        self.smtp.stop()

    def start_smtp(self) -> None:
        """Start SMTP capture again on the same ports and Maildir; returns once it accepts."""
        if not self.smtp.running:
            self.smtp.start()
            self.smtp.wait_ready(30.0)

    @contextlib.contextmanager
    def smtp_stopped(self) -> Iterator[None]:
        """``with infra.smtp_stopped(): ...``: SMTP is down inside the block, up after it."""
        self.stop_smtp()
        try:
            yield
        finally:
            self.start_smtp()

    def stop_kafka(self) -> None:
        """Stop the broker (SIGTERM, as an operator would): clients now find no broker."""
        self.kafka.stop()

    def start_kafka(self) -> None:
        """Start the broker again on the same ports and data dir (its topics, offsets and the
        producers' idempotence state survive); returns once it answers metadata requests."""
        process = self.kafka.process
        if process is None or not process.running:
            self.kafka.start()
            self.kafka.wait_ready(120.0)

    @contextlib.contextmanager
    def kafka_stopped(self) -> Iterator[None]:
        """``with infra.kafka_stopped(): ...``: no broker inside the block, back after it."""
        self.stop_kafka()
        try:
            yield
        finally:
            self.start_kafka()

    # -- mail -------------------------------------------------------------------------------

    def mail(self) -> list[StoredMessage]:
        """Every message captured this session, newest first (other tests' mail included:
        filter on your own recipients or subjects)."""
        return read_messages(self.maildir)

    def wait_for_mail(
        self, predicate: MailPredicate | None = None, *, timeout: float = 30.0
    ) -> StoredMessage:
        """The newest message matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.mail():
                if predicate is None or predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching mail in {self.maildir} after {timeout}s")
            time.sleep(0.2)


class ServiceFactory:
    """Starts services for one test (or one module/session scope, if you build one yourself).

    ``factory("articles")`` runs ``broadsheet_articles.main:create_app`` with the environment
    ``make run`` would give it, pointed at ``infra``, isolated by ``prefix`` (topic prefix
    ``f"{prefix}."``, database ``f"{prefix}_broadsheet_articles"``). Services started earlier by
    the same factory are wired in: a gateway gets their URLs.
    """

    def __init__(self, infra: Infra, prefix: str) -> None:
        self.infra = infra
        self.prefix = prefix
        self.started: list[ServiceProcess] = []
        self._counter = 0

    def __call__(
        self,
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        app: str | None = None,
        factory: bool = True,
        port: int | None = None,
        prefix: str | None = None,
        ready_path: str = "/readyz",
        ready_timeout: float = 60.0,
        python_path: Sequence[Path] = (),
        wait: bool = True,
    ) -> ServiceProcess:
        """Start ``name`` and (unless ``wait=False``) wait until ``ready_path`` answers 200.

        ``name`` is a service from ``broadsheet_devstack.services.SERVICES``, or any label when
        ``app`` ("module:attr", a factory unless ``factory=False``) is given. ``env`` overrides
        the computed environment.
        """
        port = port or free_port()
        if app is None:
            spec = services.get(name)
            app = spec.app
        base_env: dict[str, str] = {}
        if name in {spec.name for spec in services.SERVICES}:
            ports = {service.name: service.port for service in self.started}
            ports[name] = port
            base_env = self.infra.service_env(
                name, self.prefix if prefix is None else prefix, ports
            )
        else:
            base_env = self.infra.env(self.prefix if prefix is None else prefix)
        self._counter += 1
        service = ServiceProcess(
            name,
            app,
            port=port,
            env={**base_env, **(env or {})},
            log_path=self.infra.log_dir / f"{name}-{self._counter}-{port}.log",
            factory=factory,
            ready_path=ready_path,
            python_path=python_path,
        )
        self.started.append(service)
        service.start()
        if wait:
            service.wait_ready(ready_timeout)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.stop()


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_infra = "infra" in getattr(item, "fixturenames", ())
        marked = any(item.get_closest_marker(name) for name in _SERVER_MARKERS)
        if uses_infra and not marked:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """Real Kafka, database and SMTP capture for the whole session (started on first use)."""
    stack = Infra(tmp_path_factory.mktemp("devstack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def _infra_back_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that stopped SMTP capture or the broker and failed before starting it again must
    not break the tests after it."""
    yield
    if "infra" not in request.fixturenames:
        return
    try:
        stack: Infra = request.getfixturevalue("infra")
    except Exception:  # infra itself failed to start: that error is reported already
        return
    stack.start_smtp()
    stack.start_kafka()


@pytest.fixture
def kafka_cluster(infra: Infra, tmp_path: Path) -> Iterator[KafkaCluster]:
    """Three Kafka nodes of the test's own, ready; the session's single broker is untouched."""
    cluster = KafkaCluster(
        tmp_path / "kafka-cluster",
        log_path=infra.log_dir / f"kafka-cluster-{tmp_path.name}.log",
        ports=[(free_port(), free_port()) for _ in range(3)],
    )
    try:
        cluster.start()
        cluster.wait_ready(180.0)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def unique_prefix() -> str:
    """``t`` + 8 hex digits: valid in topic names, consumer groups and database names."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def service_process(infra: Infra, unique_prefix: str) -> Iterator[ServiceFactory]:
    """Factory: ``service_process("articles")`` → a ready ServiceProcess; stopped after the test."""
    factory = ServiceFactory(infra, unique_prefix)
    try:
        yield factory
    finally:
        factory.stop_all()
