"""MongoDB plumbing: the client factory, transactions and index creation.

The code runs unchanged against real MongoDB (a replica set, which transactions need) and the
local wire-compatible server. Only :mod:`repository` modules should touch collections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pymongo
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from broadsheet_shared.settings import DatabaseServiceSettings

T = TypeVar("T")
Document = dict[str, Any]
MongoClient = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Session = AsyncClientSession


# What a database that is down, unreachable, stopped or too slow raises: the request was fine,
# the service cannot answer it now (503). ConnectionFailure covers AutoReconnect, NetworkTimeout,
# ServerSelectionTimeoutError, NotPrimaryError and WaitQueueTimeoutError; ExecutionTimeout is
# an operation (or a whole transaction) that ran out of its time. Any other PyMongoError (a
# duplicate key, a bad query) is a bug or a conflict, not an outage.
UNAVAILABLE: tuple[type[PyMongoError], ...] = (ConnectionFailure, ExecutionTimeout)


def create_mongo_client(settings: DatabaseServiceSettings) -> MongoClient:
    # timeoutMS (client-side operation timeout) bounds every operation as a whole, server
    # selection, connecting and waiting for the reply included; a stopped or frozen server
    # fails it after that long instead of after PyMongo's 30 s defaults.
    return AsyncMongoClient(
        settings.mongo_url,
        appname=settings.service_name,
        tz_aware=True,
        uuidRepresentation="standard",
        timeoutMS=settings.mongo_timeout_ms,
    )


def service_database(client: MongoClient, settings: DatabaseServiceSettings) -> Database:
    return client.get_database(
        settings.mongo_database,
        codec_options=CodecOptions(tz_aware=True, uuid_representation=4),
        write_concern=WriteConcern("majority"),
        read_concern=ReadConcern("majority"),
    )


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    indexes: Sequence[IndexModel]


# The server's answer to an index that exists under the same name with other options: mongod
# says IndexOptionsConflict (85), SecantusDB IndexKeySpecsConflict (86).
_INDEX_CONFLICT_CODES = frozenset({85, 86})


async def ensure_indexes(db: Database, specs: Sequence[IndexSpec]) -> None:
    """Create every index at start-up; creating an existing identical index is a no-op.

    A TTL index whose ``expireAfterSeconds`` is now configured differently is changed in place
    (``collMod``), so a new retention setting applies at the next start, to old rows too. Any
    other difference still fails the start: it needs a deliberate migration.
    """
    for spec in specs:
        if not spec.indexes:
            continue
        collection = db[spec.collection]
        try:
            await collection.create_indexes(list(spec.indexes))
        except OperationFailure as exc:
            if exc.code not in _INDEX_CONFLICT_CODES or not await _update_ttls(db, spec):
                raise
            await collection.create_indexes(list(spec.indexes))


async def _update_ttls(db: Database, spec: IndexSpec) -> bool:
    """Bring existing TTL indexes to the spec's ``expireAfterSeconds``. True if one changed."""
    existing = await db[spec.collection].index_information()
    changed = False
    for model in spec.indexes:
        wanted = model.document
        current = existing.get(wanted["name"])
        if (
            current is None
            or "expireAfterSeconds" not in wanted
            or current.get("expireAfterSeconds") == wanted["expireAfterSeconds"]
        ):
            continue
        await db.command(
            {
                "collMod": spec.collection,
                "index": {
                    "name": wanted["name"],
                    "expireAfterSeconds": wanted["expireAfterSeconds"],
                },
            }
        )
        changed = True
    return changed


async def ping(client: MongoClient) -> bool:
    try:
        await client.admin.command("ping")
    except PyMongoError:
        return False
    return True


async def run_in_transaction(
    client: MongoClient,
    work: Callable[[Session], Awaitable[T]],
    *,
    timeout: float | None = None,
) -> T:
    """Run ``work`` in a transaction, retried as a whole on transient errors (write conflicts).

    The whole of it, retries and commit included, is bounded by ``timeout`` seconds, by default
    the client's timeoutMS (else with_transaction retries for up to 120 s): the commit is never
    sent after that.
    """
    with pymongo.timeout(client.options.timeout if timeout is None else timeout):
        async with client.start_session() as session:
            return await session.with_transaction(work)
