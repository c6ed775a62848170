"""The real Apache Kafka broker in KRaft mode, run from Maven Central jars: one node (``make run``,
the tests' session) or a cluster of three (:class:`KafkaCluster`, ``DEVSTACK_KAFKA_BROKERS=3``).

There is no Docker engine on our machines and no Kafka download outside the registries, so the
broker's jars are resolved by Maven (``tools/devstack/kafka/pom.xml``) into a cache shared by
every run, and ``kafka.Kafka`` runs on the machine's JDK with a generated ``server.properties``.
Storage is formatted on the first start only, so topics and offsets survive restarts.

Command line (used by ``make install``)::

    python -m broadsheet_devstack.kafka ensure-jars
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient

from broadsheet_devstack.paths import cache_dir, repo_root
from broadsheet_devstack.processes import (
    ManagedProcess,
    StartupError,
    ensure_port_free,
    port_open,
    wait_until,
)

T = TypeVar("T")

HEAP_MB = 512  # the ceiling
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}

# Root at WARN keeps the log readable; the one INFO line kept says when the broker is up.
LOG4J2_YAML = """\
Configuration:
  status: warn
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
        additivity: false
        AppenderRef:
          - ref: STDOUT
"""


def pom_path() -> Path:
    return repo_root() / "tools" / "devstack" / "kafka" / "pom.xml"


def kafka_version(pom: Path | None = None) -> str:
    """The Kafka version pinned in the pom: the one place it is written."""
    root = ET.parse(pom or pom_path()).getroot()  # noqa: S314 - our own checked-in file
    version = root.findtext("m:properties/m:kafka.version", namespaces=_POM_NS)
    if not version:
        raise ValueError(f"no <kafka.version> property in {pom or pom_path()}")
    return version.strip()


def jars_dir(version: str | None = None) -> Path:
    return cache_dir() / "kafka" / (version or kafka_version()) / "libs"


def _find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise StartupError("kafka", "no `java` on PATH: Kafka needs a JDK 17 or newer")
    return java


def ensure_jars(*, verbose: bool = True) -> Path:
    """Kafka's runtime jars in the cache; resolved with Maven on first use only.

    Maven copies into a side folder that is renamed into place when complete, so an interrupted
    download is never mistaken for a finished one. A file lock keeps two concurrent callers
    (``make run`` and a test session) from downloading twice.
    """
    pom = pom_path()
    libs = jars_dir(kafka_version(pom))
    if _complete(libs):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(libs):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StartupError("kafka", "no `mvn` on PATH: Maven resolves Kafka's jars")
        partial = libs.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        if verbose:
            print(f"Resolving Kafka {kafka_version(pom)} jars with Maven (first run only)…")
        started = time.monotonic()
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            raise StartupError(
                "kafka", f"Maven could not resolve the jars:\n{result.stdout}\n{result.stderr}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        if verbose:
            print(f"Kafka jars ready in {libs} ({time.monotonic() - started:.0f}s)")
    return libs


def _complete(libs: Path) -> bool:
    return libs.is_dir() and any(libs.glob("kafka_2.13-*.jar"))


def random_cluster_id() -> str:
    """What ``kafka-storage.sh random-uuid`` prints (URL-safe base64 of 16 random bytes),
    generated here to save a JVM start. Kafka avoids ids starting with '-' (they read as a
    command-line flag), so do we."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even if the caller has a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _describe_cluster(bootstrap_servers: str) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
        return cluster
    finally:
        await admin.close()


def broker_answers(bootstrap_servers: str) -> bool:
    """A Kafka client gets cluster metadata listing at least one broker."""
    try:
        return bool(_run_coroutine(_describe_cluster(bootstrap_servers)).get("brokers"))
    except Exception:  # any client error means "not yet"
        return False


class KafkaServer:
    """One broker+controller in KRaft mode, its files under ``data_dir`` (``$DATA_DIR/kafka``).

    Alone it forms a dynamic quorum of one (formatted ``--standalone``). In a cluster it is node
    ``node_id`` among the static ``voters`` (node id → controller address), formatted with the
    cluster's ``cluster_id``, and every topic it creates is replicated to ``len(voters)`` nodes.
    """

    name = "kafka"

    def __init__(
        self,
        data_dir: Path,
        *,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int = 9092,
        controller_port: int = 9093,
        heap_mb: int = HEAP_MB,
        node_id: int = 1,
        voters: Mapping[int, str] | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.host = host
        self.port = port
        self.controller_port = controller_port
        self.heap_mb = min(heap_mb, HEAP_MB)
        self.node_id = node_id
        self.voters = dict(voters or {})
        self.cluster_id = cluster_id
        self._process: ManagedProcess | None = None

    @property
    def replicas(self) -> int:
        """How many nodes hold a copy of each partition: every node of the cluster."""
        return max(1, len(self.voters))

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "data"

    def _quorum(self, controller: str) -> dict[str, str]:
        if not self.voters:
            # A dynamic quorum (formatted with --standalone), so no controller.quorum.voters.
            return {"controller.quorum.bootstrap.servers": controller}
        voters = ",".join(f"{node}@{address}" for node, address in sorted(self.voters.items()))
        return {"controller.quorum.voters": voters}

    def server_properties(self) -> str:
        broker = f"{self.host}:{self.port}"
        controller = f"{self.host}:{self.controller_port}"
        replicas = str(self.replicas)
        # A write is acknowledged (acks=all) once two copies have it, so one node may die; a
        # single node can only ask for one.
        min_insync = str(min(2, self.replicas))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            **self._quorum(controller),
            "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.storage_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            "default.replication.factor": replicas,
            "min.insync.replicas": min_insync,
            "offsets.topic.replication.factor": replicas,
            # 50 partitions by default; 10 makes the first consumer group join faster.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_insync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_insync,
            # Consumers join at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner looks for compactable logs every second instead of every 15 s:
            # a compacted topic set to roll segments quickly (a test's) is compacted within
            # seconds. Idle checks cost nothing measurable.
            "log.cleaner.backoff.ms": "1000",
        }
        if self.voters:
            # Three JVMs on a shared two-core machine stall for seconds: a node must not be
            # fenced, nor an election called, for a pause alone.
            settings["broker.session.timeout.ms"] = "30000"
            settings["controller.quorum.fetch.timeout.ms"] = "10000"
            settings["controller.quorum.election.timeout.ms"] = "5000"
        lines = ["# Written by broadsheet_devstack.kafka at every start; edits are lost."]
        lines += [f"{key}={value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _java_command(self, libs: Path, main_class: str, *args: str, heap_mb: int) -> list[str]:
        return [
            _find_java(),
            f"-Xmx{heap_mb}m",
            f"-Xms{min(256, heap_mb)}m",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
            "-cp",
            f"{libs}/*",  # Java expands the wildcard itself
            main_class,
            *args,
        ]

    def _format_storage_once(self, libs: Path) -> None:
        if (self.storage_dir / "meta.properties").exists():
            return
        command = self._java_command(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            self.cluster_id or random_cluster_id(),
            "--config",
            str(self.data_dir / "server.properties"),
            *(() if self.voters else ("--standalone",)),
            heap_mb=256,
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        with self.log_path.open("a") as log:
            log.write(f"=== formatting storage\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise StartupError(self.name, "formatting the storage failed", self.log_path)

    def start(self) -> None:
        """Write the config, format storage if new, start the JVM. Does not wait: see wait_ready."""
        ensure_port_free(self.name, self.host, self.port)
        ensure_port_free(f"{self.name} controller", self.host, self.controller_port)
        libs = ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "server.properties").write_text(self.server_properties())
        (self.data_dir / "log4j2.yaml").write_text(LOG4J2_YAML)
        self._format_storage_once(libs)
        self._process = ManagedProcess(
            self.name,
            self._java_command(
                libs,
                "kafka.Kafka",
                str(self.data_dir / "server.properties"),
                heap_mb=self.heap_mb,
            ),
            log_path=self.log_path,
            cwd=self.data_dir,
            stop_timeout=30.0,
        )
        self._process.start()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until a Kafka client gets metadata from the broker."""
        if self._process is None:
            raise RuntimeError("start() first")
        deadline = time.monotonic() + timeout
        wait_until(
            lambda: port_open(self.host, self.port),
            timeout=timeout,
            what=f"listening on {self.bootstrap_servers}",
            process=self._process,
        )
        wait_until(
            lambda: broker_answers(self.bootstrap_servers),
            timeout=max(1.0, deadline - time.monotonic()),
            what="answering metadata requests",
            process=self._process,
            interval=0.25,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()


class KafkaCluster:
    """``brokers`` KafkaServers (each broker and controller) forming one cluster: node ``n``'s
    files in ``data_dir/node-n``, its log beside ``log_path`` as ``kafka-n.log``. Started, awaited
    and stopped as one; each node is also reachable alone, to kill or restart it."""

    name = "kafka"

    def __init__(
        self,
        data_dir: Path,
        *,
        log_path: Path,
        ports: Sequence[tuple[int, int]],  # (broker port, controller port) per node
        host: str = "127.0.0.1",
        heap_mb: int = HEAP_MB,
    ) -> None:
        voters = {n: f"{host}:{controller}" for n, (_, controller) in enumerate(ports, start=1)}
        cluster_id = random_cluster_id()
        if (data_dir / "cluster.id").exists():  # a restarted cluster keeps its identity
            cluster_id = (data_dir / "cluster.id").read_text().strip()
        self.data_dir = data_dir
        self.cluster_id = cluster_id
        self.nodes = [
            KafkaServer(
                data_dir / f"node-{n}",
                log_path=log_path.with_name(f"{log_path.stem}-{n}{log_path.suffix}"),
                host=host,
                port=port,
                controller_port=controller,
                heap_mb=heap_mb,
                node_id=n,
                voters=voters,
                cluster_id=cluster_id,
            )
            for n, (port, controller) in enumerate(ports, start=1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    @property
    def replicas(self) -> int:
        return len(self.nodes)

    def node(self, node_id: int) -> KafkaServer:
        return self.nodes[node_id - 1]

    def _watched(self) -> KafkaServer:
        """The node ``make run`` reports on: the first that exited, else node 1."""
        exited = [n for n in self.nodes if n.process is not None and not n.process.running]
        return (exited or self.nodes)[0]

    @property
    def process(self) -> ManagedProcess | None:
        return self._watched().process

    @property
    def log_path(self) -> Path:
        return self._watched().log_path

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "cluster.id").write_text(self.cluster_id)
        for node in self.nodes:
            node.start()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until every node answers metadata requests (the quorum formed: a node alone does not
        serve metadata). On a starved machine a broker may give up waiting for the controllers
        to acknowledge it before they are all up; such a node is started again, twice at most."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            for attempt in range(3):
                try:
                    node.wait_ready(max(1.0, deadline - time.monotonic()))
                    break
                except StartupError:
                    if attempt == 2 or node.process is None or node.process.running:
                        raise
                    node.start()

    def stop(self) -> None:
        # All at once: a node stopped after the others waits for a quorum that is gone.
        for node in self.nodes:
            if node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()


def kafka_for(
    brokers: int, data_dir: Path, *, log_path: Path, port: int, controller_port: int
) -> KafkaServer | KafkaCluster:
    """What ``make run`` starts: one node (the default), or ``brokers`` nodes whose ports count up
    by two from ``port`` and ``controller_port`` (9092/9093, 9094/9095, 9096/9097)."""
    if brokers < 1:
        raise ValueError(f"DEVSTACK_KAFKA_BROKERS must be 1 or more, not {brokers}")
    if brokers == 1:
        return KafkaServer(data_dir, log_path=log_path, port=port, controller_port=controller_port)
    ports = [(port + 2 * n, controller_port + 2 * n) for n in range(brokers)]
    return KafkaCluster(data_dir, log_path=log_path, ports=ports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m broadsheet_devstack.kafka")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure-jars", help="resolve Kafka's jars into the cache (once)")
    sub.add_parser("version", help="print the pinned Kafka version")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(kafka_version())
        return 0
    try:
        print(ensure_jars())
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
