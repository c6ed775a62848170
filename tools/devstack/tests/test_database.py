"""The MongoDB-compatible server: transactions (the outbox needs them) and durable data."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient, MongoClient

from broadsheet_devstack.database import SERVER_BINARY_ENV, DatabaseServer, server_command
from broadsheet_devstack.processes import free_port
from broadsheet_devstack.pytest_plugin import Infra

pytestmark = pytest.mark.integration


class Boom(Exception):
    pass


async def test_transaction_commits_both_writes_or_neither(infra: Infra, unique_prefix: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongo_url)
    db = client[f"{unique_prefix}_db"]
    try:
        # Collections must exist before a transaction writes to them on older servers.
        await db.create_collection("articles")
        await db.create_collection("outbox")
        async with client.start_session() as session, await session.start_transaction():
            await db.articles.insert_one({"_id": "a1", "title": "Hello"}, session=session)
            await db.outbox.insert_one({"_id": "e1", "type": "article.published"}, session=session)

        async def failing_transaction() -> None:
            async with client.start_session() as session, await session.start_transaction():
                await db.articles.insert_one({"_id": "a2"}, session=session)
                await db.outbox.insert_one({"_id": "e2"}, session=session)
                raise Boom  # leaving the block with an error aborts the transaction

        with pytest.raises(Boom):
            await failing_transaction()

        assert await db.articles.distinct("_id") == ["a1"]
        assert await db.outbox.distinct("_id") == ["e1"]
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    server = DatabaseServer(tmp_path / "db", log_path=tmp_path / "db.log", port=free_port())
    try:
        server.start()
        await asyncio.to_thread(server.wait_ready)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.url)
        await client.keep.docs.insert_one({"_id": 1, "note": "still here"})
        await client.close()
        server.stop()

        server.start()
        await asyncio.to_thread(server.wait_ready)
        client = AsyncMongoClient(server.url)
        found = await client.keep.docs.find_one({"_id": 1})
        await client.close()
    finally:
        server.stop()
    assert found == {"_id": 1, "note": "still here"}


ABANDON_TRANSACTION = """
import os, signal, sys
from pymongo import MongoClient
client = MongoClient(sys.argv[1])
session = client.start_session()
session.start_transaction()
client.t.docs.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
os.kill(os.getpid(), signal.SIGKILL)  # dies holding the transaction and its write
"""


def test_transaction_of_a_killed_client_is_reaped(tmp_path: Path) -> None:
    """A killed client's open transaction must not block later writers of the same document
    for ever: the server reaps it, as mongod does, and the waiting write then goes through."""
    server = DatabaseServer(tmp_path / "db", log_path=tmp_path / "db.log", port=free_port())
    server.start()
    try:
        server.wait_ready(60.0)
        client: MongoClient[dict[str, object]] = MongoClient(server.url)
        client.t.docs.insert_one({"_id": 1, "n": 0})
        killed = subprocess.run(
            [sys.executable, "-c", ABANDON_TRANSACTION, server.url], check=False, timeout=60
        )
        assert killed.returncode == -signal.SIGKILL
        started = time.monotonic()
        client.t.docs.update_one({"_id": 1}, {"$inc": {"n": 10}})
        waited = time.monotonic() - started
        assert client.t.docs.find_one({"_id": 1}) == {"_id": 1, "n": 10}
        assert waited < 45, f"the write waited {waited:.0f}s for the abandoned transaction"
        client.close()
    finally:
        server.stop()


def test_server_command_is_secantusd_py_unless_a_binary_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SERVER_BINARY_ENV, raising=False)
    assert server_command()[-2:] == ["-m", "broadsheet_devstack.secantus_server"]
    monkeypatch.setenv(SERVER_BINARY_ENV, "/opt/secantusd-rs")
    assert server_command() == ["/opt/secantusd-rs"]
