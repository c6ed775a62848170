"""Installing the peers the benches compare Broadsheet with, from their own registries.

Python peers (Isso, confluent-kafka) get a virtualenv each under ``.cache/bench-peers/``: their
dependencies (Werkzeug, misaka, librdkafka's wheel …) must never enter Broadsheet's lock, and a
peer runs the way its users install it. Kafka's own ``kafka-producer-perf-test`` lives in the
``kafka-tools`` jar, which the broker's jars (``make jars``) do not include: Maven resolves it
beside them, at the Kafka version the devstack's pom pins. A peer that cannot be installed raises
:class:`PeerMissing`, and the bench reports it as missing.

The scripts a peer runs in its own virtualenv sit in ``tools/bench/peers/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from broadsheet_devstack.kafka import jars_dir, kafka_version

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".cache" / "bench-peers"
SCRIPTS = Path(__file__).resolve().parent / "peers"
KAFKA_TOOLS_POM = Path(__file__).resolve().parent / "kafka-tools" / "pom.xml"


class PeerMissing(Exception):
    """A peer could not be installed or started; the message says why."""


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PeerMissing(f"{what} failed: {(result.stderr or result.stdout).strip()[-500:]}")
    return result.stdout


def peer_python(name: str, *requirements: str) -> Path:
    """The Python of a virtualenv holding ``requirements`` (pinned PyPI requirements), created
    on first use and again when they change."""
    requirement = " ".join(requirements)
    venv = VENVS / name
    python = venv / "bin" / "python"
    installed = venv / "requirement.txt"
    if python.exists() and installed.exists() and installed.read_text() == requirement:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"Installing {requirement} into {venv.relative_to(ROOT)}", file=sys.stderr)
    _run([sys.executable, "-m", "venv", str(venv)], f"creating a virtualenv for {name}")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, *requirements], f"pip install {requirement}")
    installed.write_text(requirement)
    return python


def installed_version(python: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return _run([str(python), "-c", code], f"reading {distribution}'s version").strip()


def kafka_tools_classpath() -> str:
    """The classpath of Kafka's command-line tools (``org.apache.kafka.tools.*``), resolved by
    Maven into ``.cache/kafka/<version>/tools`` on first use."""
    version = kafka_version()
    tools = jars_dir(version).with_name("tools")
    if not any(tools.glob("kafka-tools-*.jar")):
        mvn = shutil.which("mvn")
        if mvn is None:
            raise PeerMissing("no `mvn` on PATH: Maven resolves Kafka's tools jar")
        partial = tools.with_name("tools.partial")
        shutil.rmtree(partial, ignore_errors=True)
        _run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(KAFKA_TOOLS_POM),
                "dependency:copy-dependencies",
                f"-Dkafka.version={version}",
                f"-DoutputDirectory={partial}",
                "-DincludeScope=runtime",
            ],
            "resolving kafka-tools with Maven",
        )
        shutil.rmtree(tools, ignore_errors=True)
        partial.rename(tools)
    return f"{tools}/*"
