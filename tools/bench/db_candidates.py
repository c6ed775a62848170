"""Benchmark and compatibility probe for MongoDB wire-compatible servers (see docs/database.md).

One async pymongo client on loopback measures the operations Broadsheet relies on (insert_one,
find_one by a unique key, a two-write transaction, a keyset-paginated sorted query), after
running ~60 feature probes (transactions, TTL, change streams, update operators, aggregation
stages, index kinds). Prints a report; --json-out writes it as JSON.

Run from the repo root (the uv workspace provides pymongo and secantusd-py):

    uv run python tools/bench/db_candidates.py --start secantus-py
    uv run python tools/bench/db_candidates.py --start secantus-rs --bin BUILD/bin/secantusd-rs
    uv run python tools/bench/db_candidates.py --start ferretdb --bin BUILD/ferretdb --page-ops 200
    # a server you started yourself (the pid is only used to read its RSS):
    uv run python tools/bench/db_candidates.py --pid PID \
        --uri 'mongodb://127.0.0.1:PORT/?directConnection=true'

Building the other candidates (outside the repo):

    cargo install secantus-mdb --version 0.5.3-beta.196 --ignore-rust-version --locked \
        --root BUILD              # --version is required: the newest non-pre-release is 0.0.0
    # FerretDB 1.x: `go install ...@v1.24.0` builds a binary that panics at start (empty
    # build/version/version.txt); copy the module source, write it, then `go build`:
    #   go mod download -json github.com/FerretDB/FerretDB@v1.24.0   (prints Dir)
    #   cp -r DIR src && chmod -R u+w src && echo v1.24.0 > src/build/version/version.txt
    #   (cd src && go build -o BUILD/ferretdb ./cmd/ferretdb)

Options: --ops N (measured ops per operation, default 3000), --warmup N (default 300),
--page-ops N (page-query ops; fewer for a slow server), --probes-only, --check-ttl (waits up
to 75 s for the TTL monitor). Every loop is bounded; servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

DB = "dbbench"

# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(kind: str, binary: str | None, port: int, data: Path) -> list[str]:
    if kind == "secantus-py":
        return [
            binary or "secantusd-py",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(data),
            "--log-level",
            "WARNING",
        ]
    if kind == "secantus-rs":
        return [
            binary or "secantusd-rs",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(data),
            "--log-level",
            "WARNING",
        ]
    if kind == "ferretdb":
        data.mkdir(parents=True, exist_ok=True)
        return [
            binary or "ferretdb",
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{port}",
            f"--state-dir={data}",
            f"--debug-addr=127.0.0.1:{_free_port()}",
            "--telemetry=disable",
            "--log-level=WARN",
        ]
    raise SystemExit(f"unknown server kind {kind!r}")


def start_server(
    kind: str, binary: str | None, workdir: Path
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = _free_port()
    data = workdir / "data"
    cmd = server_command(kind, binary, port, data)
    log = open(workdir / "server.log", "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = t0 + 60
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode}); see {workdir}/server.log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit("server did not open its port within 60 s")
    return proc, f"mongodb://127.0.0.1:{port}/?directConnection=true", time.perf_counter() - t0


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM of pid plus its descendants, in KiB (Linux /proc)."""
    pids = [pid]
    i = 0
    while i < len(pids):
        try:
            kids = Path(f"/proc/{pids[i]}/task/{pids[i]}/children").read_text().split()
        except OSError:
            kids = []
        pids += [int(k) for k in kids]
        i += 1
    tot = {"rss_kib": 0, "hwm_kib": 0}
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    tot["rss_kib"] += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    tot["hwm_kib"] += int(line.split()[1])
        except OSError:
            pass
    tot["processes"] = len(pids)
    return tot


# --------------------------------------------------------------------------- timing


async def measure(
    name: str, op: Callable[[int], Awaitable[Any]], n: int, warmup: int
) -> dict[str, Any]:
    for i in range(warmup):
        await op(-1 - i)
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        await op(i)
        lat.append((time.perf_counter() - s) * 1000.0)
    total = time.perf_counter() - t0
    lat.sort()
    res = {
        "op": name,
        "n": n,
        "ops_per_s": round(n / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3),
        "max_ms": round(lat[-1], 3),
    }
    print(
        f"  {name:<28} {res['ops_per_s']:>9} ops/s  p50 {res['p50_ms']:>8} ms  "
        f"p99 {res['p99_ms']:>8} ms",
        flush=True,
    )
    return res


async def measure_concurrent(
    name: str, op: Callable[[int], Awaitable[Any]], n: int, workers: int
) -> dict[str, Any]:
    lat: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            s = time.perf_counter()
            await op(i)
            lat.append((time.perf_counter() - s) * 1000.0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    total = time.perf_counter() - t0
    lat.sort()
    res = {
        "op": name,
        "n": n,
        "ops_per_s": round(n / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3),
        "max_ms": round(lat[-1], 3),
    }
    print(
        f"  {name:<28} {res['ops_per_s']:>9} ops/s  p50 {res['p50_ms']:>8} ms  "
        f"p99 {res['p99_ms']:>8} ms",
        flush=True,
    )
    return res


def body(n: int = 900) -> str:
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n))


def doc_1kb(i: int) -> dict[str, Any]:
    return {
        "seq": i,
        "title": f"Article {i}",
        "author": "bench",
        "tags": ["a", "b", "c"],
        "created_at": dt.datetime.now(dt.UTC),
        "body": body(900),
    }


# --------------------------------------------------------------------------- benchmarks


async def bench(
    client: AsyncMongoClient[dict[str, Any]], n: int, warmup: int, do_txn: bool, page_ops: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    db = client[DB]
    results: list[dict[str, Any]] = []
    notes: dict[str, Any] = {}

    # insert_one ~1 KB
    await db.drop_collection("ins")
    ins = db["ins"]
    sample = doc_1kb(0)
    from bson import encode

    notes["insert_doc_bytes"] = len(encode(sample))
    docs = [doc_1kb(i) for i in range(n + warmup)]

    async def op_insert(i: int) -> None:
        d = dict(docs[i])
        await ins.insert_one(d)

    results.append(await measure("insert_one (1 KB)", op_insert, n, warmup))

    cdocs = [doc_1kb(i) for i in range(n)]

    async def op_insert_c(i: int) -> None:
        await ins.insert_one(dict(cdocs[i]))

    results.append(await measure_concurrent("insert_one x16 concurrent", op_insert_c, n, 16))

    # find_one by unique indexed field
    await db.drop_collection("fnd")
    fnd = db["fnd"]
    await fnd.create_index("key", unique=True)
    keys = [f"k-{i:06d}-{ObjectId()}" for i in range(n)]
    for chunk in range(0, n, 500):
        await fnd.insert_many([{"key": k, "body": body(900)} for k in keys[chunk : chunk + 500]])
    misses = 0

    async def op_find(i: int) -> None:
        nonlocal misses
        k = random.choice(keys)
        d = await fnd.find_one({"key": k})
        if d is None or d["key"] != k:
            misses += 1

    results.append(await measure("find_one by unique key", op_find, n, warmup))
    notes["find_one_wrong_results"] = misses

    # transaction: update one doc in A + insert one doc in B
    if do_txn:
        await db.drop_collection("txa")
        await db.drop_collection("txb")
        await db.create_collection("txa")
        await db.create_collection("txb")
        txa, txb = db["txa"], db["txb"]
        await txa.insert_many([{"_id": j, "count": 0} for j in range(100)])

        async def op_txn(i: int) -> None:
            async with client.start_session() as s, await s.start_transaction():
                await txa.update_one({"_id": i % 100}, {"$inc": {"count": 1}}, session=s)
                await txb.insert_one(
                    {"seq": i, "type": "ArticlePublished", "payload": {"x": body(200)}}, session=s
                )

        results.append(await measure("transaction (update A + insert B)", op_txn, n, warmup))
        total = sum([d["count"] async for d in txa.find({})])
        notes["txn_committed_consistent"] = (
            total == n + warmup and await txb.count_documents({}) == n + warmup
        )
    else:
        results.append({"op": "transaction (update A + insert B)", "skipped": "no transactions"})

    # keyset pagination on 10,000 docs with a compound index
    await db.drop_collection("cmt")
    cmt = db["cmt"]
    await cmt.create_index(
        [
            ("article_id", ASCENDING),
            ("status", ASCENDING),
            ("created_at", ASCENDING),
            ("_id", ASCENDING),
        ]
    )
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = []
    for i in range(10_000):
        rows.append(
            {
                "_id": ObjectId(),
                "article_id": f"a{i % 20:02d}",
                "status": "approved" if (i // 20) % 4 else "pending",
                # ties on created_at every 3 docs exercise the (_id) tiebreak
                "created_at": base + dt.timedelta(seconds=i // 3),
                "author": f"u{i % 97}",
                "text": body(300),
            }
        )
    for chunk in range(0, len(rows), 1000):
        await cmt.insert_many(rows[chunk : chunk + 1000])
    by_article: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "approved":
            by_article.setdefault(r["article_id"], []).append(r)
    for v in by_article.values():
        v.sort(key=lambda r: (r["created_at"], r["_id"]))
    wrong_pages = 0

    async def op_page(i: int) -> None:
        nonlocal wrong_pages
        art = f"a{random.randrange(20):02d}"
        exp_all = by_article[art]
        start = random.randrange(0, len(exp_all) - 60)
        last = exp_all[start]
        q = {"article_id": art, "status": "approved", "created_at": {"$gt": last["created_at"]}}
        got = await cmt.find(q).sort([("created_at", 1), ("_id", 1)]).limit(50).to_list()
        exp = [r for r in exp_all if r["created_at"] > last["created_at"]][:50]
        if [g["_id"] for g in got] != [e["_id"] for e in exp]:
            wrong_pages += 1

    results.append(
        await measure(
            "page: sort+limit 50, $gt cursor",
            op_page,
            page_ops,
            min(warmup, max(10, page_ops // 10)),
        )
    )
    notes["page_wrong_results"] = wrong_pages

    # full walk of one article with the tie-safe $or cursor form (correctness only)
    art = "a07"
    seen: list[ObjectId] = []
    cond: dict[str, Any] = {}
    for _ in range(100):
        q = {"article_id": art, "status": "approved", **cond}
        page = await cmt.find(q).sort([("created_at", 1), ("_id", 1)]).limit(50).to_list()
        if not page:
            break
        seen += [p["_id"] for p in page]
        lp = page[-1]
        cond = {
            "$or": [
                {"created_at": {"$gt": lp["created_at"]}},
                {"created_at": lp["created_at"], "_id": {"$gt": lp["_id"]}},
            ]
        }
    notes["keyset_walk_$or_correct"] = seen == [r["_id"] for r in by_article[art]]
    try:
        e = (
            await cmt.find({"article_id": "a01", "status": "approved"})
            .sort([("created_at", 1), ("_id", 1)])
            .limit(50)
            .explain()
        )
        s = json.dumps(e, default=str)
        notes["page_query_explain"] = "IXSCAN" if "IXSCAN" in s else "no IXSCAN in explain"
    except PyMongoError as ex:
        notes["page_query_explain"] = f"explain failed: {ex}"[:200]
    return results, notes


# --------------------------------------------------------------------------- feature probes


async def probes(client: AsyncMongoClient[dict[str, Any]], check_ttl: bool) -> dict[str, Any]:
    db = client[DB]
    out: dict[str, Any] = {}

    async def probe(name: str, fn: Callable[[], Awaitable[Any]], timeout: float = 20) -> None:
        try:
            r = await asyncio.wait_for(fn(), timeout)
            if isinstance(r, tuple):  # (ok, detail)
                out[name] = {"ok": bool(r[0]), "detail": str(r[1])[:300]}
            else:
                out[name] = {
                    "ok": bool(r) if r is not None else True,
                    **({"detail": r} if isinstance(r, str) else {}),
                }
        except TimeoutError:
            out[name] = {"ok": False, "error": f"timed out after {timeout}s"}
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            out[name] = {"ok": False, "error": msg[:300]}
        st = "ok  " if out[name]["ok"] else "FAIL"
        extra = out[name].get("error") or out[name].get("detail") or ""
        print(f"  [{st}] {name} {extra}", flush=True)

    async def fresh(name: str) -> Any:
        await db.drop_collection(name)
        return db[name]

    # ---- core checks: uniqueness, TTL, upsert counters, $group, change streams, transactions
    async def unique_dup() -> bool:
        c = await fresh("p_unique")
        await c.create_index("email", unique=True)
        await c.insert_one({"email": "a@x"})
        try:
            await c.insert_one({"email": "a@x"})
        except DuplicateKeyError as e:
            return e.code == 11000
        return False

    async def ttl_index() -> bool:
        c = await fresh("p_ttl")
        await c.create_index("expires_at", expireAfterSeconds=3600)
        info = await c.index_information()
        return any(v.get("expireAfterSeconds") == 3600 for v in info.values())

    async def fou_upsert_inc() -> bool:
        c = await fresh("p_fou")
        a = await c.find_one_and_update(
            {"_id": "ctr"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        b = await c.find_one_and_update(
            {"_id": "ctr"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return a == {"_id": "ctr", "n": 1} and b == {"_id": "ctr", "n": 2}

    async def agg_group() -> bool:
        c = await fresh("p_agg")
        await c.insert_many([{"k": f"k{i % 5}"} for i in range(100)])
        r = await (
            await c.aggregate([{"$group": {"_id": "$k", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
        ).to_list()
        return r == [{"_id": f"k{i}", "n": 20} for i in range(5)]

    async def change_stream() -> bool:
        c = await fresh("p_cs")
        await db.create_collection("p_cs")
        async with await c.watch(max_await_time_ms=500) as stream:
            await c.insert_one({"x": 1})
            for _ in range(20):
                ch = await stream.try_next()
                if ch is not None:
                    return ch["operationType"] == "insert" and ch["fullDocument"]["x"] == 1
        return False

    async def txn_abort_atomic() -> bool:
        a = await fresh("p_txa")
        b = await fresh("p_txb")
        await a.insert_one({"_id": 1, "v": 0})
        await db.create_collection("p_txb")

        class Boom(Exception):
            pass

        try:
            async with client.start_session() as s, await s.start_transaction():
                await a.update_one({"_id": 1}, {"$set": {"v": 99}}, session=s)
                await b.insert_one({"_id": "evt"}, session=s)
                # uncommitted writes must not be visible outside the transaction
                if await b.find_one({"_id": "evt"}) is not None:
                    return False
                if (await a.find_one({"_id": 1}))["v"] != 0:
                    return False
                raise Boom
        except Boom:
            pass
        return (await a.find_one({"_id": 1}))["v"] == 0 and await b.count_documents({}) == 0

    async def txn_explicit_abort() -> bool:
        a = await fresh("p_txa2")
        await db.create_collection("p_txa2")
        async with client.start_session() as s:
            await s.start_transaction()
            await a.insert_one({"_id": 1}, session=s)
            await s.abort_transaction()
        return await a.count_documents({}) == 0

    async def txn_with_transaction() -> bool:
        a = await fresh("p_txw")
        await db.create_collection("p_txw")

        async def cb(s: Any) -> None:
            await a.insert_one({"_id": 1}, session=s)
            await a.insert_one({"_id": 2}, session=s)

        async with client.start_session() as s:
            await s.with_transaction(cb)
        return await a.count_documents({}) == 2

    async def txn_write_conflict() -> str:
        a = await fresh("p_txc")
        await a.insert_one({"_id": 1, "v": 0})
        s1 = client.start_session()
        s2 = client.start_session()
        try:
            await s1.start_transaction()
            await s2.start_transaction()
            await a.update_one({"_id": 1}, {"$set": {"v": 1}}, session=s1)
            try:
                await a.update_one({"_id": 1}, {"$set": {"v": 2}}, session=s2)
            except OperationFailure as e:
                await s2.abort_transaction()
                await s1.commit_transaction()
                return (
                    f"second writer got code {e.code} ({e.details.get('codeName')}), "
                    f"TransientTransactionError="
                    f"{e.has_error_label('TransientTransactionError')}"
                )
            await s1.commit_transaction()
            try:
                await s2.commit_transaction()
                return "BOTH committed (lost update!)"
            except OperationFailure as e:
                return f"conflict only at commit: code {e.code}"
        finally:
            await s1.end_session()
            await s2.end_session()

    async def txn_majority_wc() -> bool:
        from pymongo import WriteConcern
        from pymongo.read_concern import ReadConcern

        a = await fresh("p_txm")
        await db.create_collection("p_txm")
        async with (
            client.start_session() as s,
            await s.start_transaction(
                read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
            ),
        ):
            await a.insert_one({"_id": 1}, session=s)
        return await a.count_documents({}) == 1

    await probe("unique index -> DuplicateKeyError(11000)", unique_dup)
    await probe("TTL index accepted (expireAfterSeconds)", ttl_index)
    await probe("find_one_and_update upsert + $inc", fou_upsert_inc)
    await probe("aggregate $group count per key", agg_group)
    await probe("change stream (collection.watch)", change_stream)
    await probe("txn: exception aborts, nothing visible", txn_abort_atomic)
    await probe("txn: explicit abort_transaction", txn_explicit_abort)
    await probe("txn: session.with_transaction", txn_with_transaction)
    await probe("txn: write-write conflict", txn_write_conflict)
    await probe("txn: readConcern snapshot + w:majority", txn_majority_wc)

    async def txn_read_own_writes() -> bool:
        a = await fresh("p_tro")
        await db.create_collection("p_tro")
        async with client.start_session() as s, await s.start_transaction():
            await a.insert_one({"_id": 1}, session=s)
            inside = await a.find_one({"_id": 1}, session=s)
            n = await a.count_documents({}, session=s)
        return inside is not None and n == 1

    async def txn_dup_key_aborts() -> tuple[bool, str]:
        a = await fresh("p_tdk")
        b = await fresh("p_tdk2")
        await a.create_index("k", unique=True)
        await a.insert_one({"k": 1})
        await db.create_collection("p_tdk2")
        err = "no error"
        try:
            async with client.start_session() as s, await s.start_transaction():
                await b.insert_one({"_id": "outbox"}, session=s)
                await a.insert_one({"k": 1}, session=s)
        except DuplicateKeyError as e:
            err = f"DuplicateKeyError {e.code}"
        return (err.startswith("DuplicateKeyError") and await b.count_documents({}) == 0), err

    async def txn_concurrent_retry() -> tuple[bool, str]:
        a = await fresh("p_tcr")
        await a.insert_one({"_id": 1, "n": 0})
        attempts = 0

        async def one() -> None:
            async def cb(s: Any) -> None:
                nonlocal attempts
                attempts += 1
                d = await a.find_one({"_id": 1}, session=s)
                await asyncio.sleep(0.005)
                await a.update_one({"_id": 1}, {"$set": {"n": d["n"] + 1}}, session=s)

            async with client.start_session() as s:
                await s.with_transaction(cb)

        await asyncio.gather(*(one() for _ in range(8)))
        n = (await a.find_one({"_id": 1}))["n"]
        return n == 8, f"final n={n} after {attempts} callback attempts for 8 txns"

    async def txn_change_stream() -> tuple[bool, str]:
        a = await fresh("p_tcs")
        await db.create_collection("p_tcs")
        async with await a.watch(max_await_time_ms=300) as st:
            async with client.start_session() as s, await s.start_transaction():
                await a.insert_one({"_id": 1}, session=s)
                await a.insert_one({"_id": 2}, session=s)
            got = []
            for _ in range(20):
                ch = await st.try_next()
                if ch is not None:
                    got.append(ch["documentKey"]["_id"])
                if len(got) == 2:
                    break
        return got == [1, 2], f"events {got}"

    async def txn_implicit_create_large() -> tuple[bool, str]:
        await db.drop_collection("p_tic")
        async with client.start_session() as s, await s.start_transaction():
            await db["p_tic"].insert_many(
                [{"i": i, "p": "x" * 500} for i in range(5000)], session=s
            )
        n = await db["p_tic"].count_documents({})
        return n == 5000, f"{n} docs committed into a collection created inside the txn"

    await probe("txn: implicit create + 5,000-doc insert", txn_implicit_create_large)
    await probe("txn: reads its own writes", txn_read_own_writes)
    await probe("txn: DuplicateKeyError inside aborts all", txn_dup_key_aborts)
    await probe("txn: 8 concurrent with_transaction on 1 doc", txn_concurrent_retry, timeout=60)
    await probe("txn: change stream sees committed writes", txn_change_stream)

    # ---- other features services are likely to use
    async def insert_many_unordered_dup() -> str:
        from pymongo.errors import BulkWriteError

        c = await fresh("p_imu")
        await c.create_index("k", unique=True)
        try:
            await c.insert_many([{"k": 1}, {"k": 1}, {"k": 2}], ordered=False)
        except BulkWriteError as e:
            n = await c.count_documents({})
            ok = e.details["nInserted"] == 2 and n == 2
            if ok:
                return "BulkWriteError, 2 inserted"
            return f"nInserted={e.details['nInserted']} count={n}"
        return "no error raised"

    async def bulk_write_mixed() -> bool:
        from pymongo import DeleteOne, InsertOne, UpdateOne

        c = await fresh("p_bw")
        r = await c.bulk_write(
            [
                InsertOne({"_id": 1}),
                InsertOne({"_id": 2}),
                UpdateOne({"_id": 1}, {"$set": {"a": 1}}),
                UpdateOne({"_id": 3}, {"$set": {"a": 3}}, upsert=True),
                DeleteOne({"_id": 2}),
            ]
        )
        counts = (r.inserted_count, r.modified_count, r.upserted_count, r.deleted_count)
        return counts == (2, 1, 1, 1)

    async def upsert_set_on_insert() -> bool:
        c = await fresh("p_soi")
        for _ in range(2):
            await c.update_one(
                {"_id": "u"},
                {"$setOnInsert": {"created": 1}, "$set": {"seen": 1}, "$inc": {"n": 1}},
                upsert=True,
            )
        return await c.find_one({"_id": "u"}) == {"_id": "u", "created": 1, "seen": 1, "n": 2}

    async def array_ops() -> bool:
        c = await fresh("p_arr")
        await c.insert_one({"_id": 1, "tags": ["a"], "hist": []})
        await c.update_one({"_id": 1}, {"$addToSet": {"tags": {"$each": ["a", "b"]}}})
        await c.update_one({"_id": 1}, {"$push": {"hist": {"$each": [1, 2, 3, 4], "$slice": -3}}})
        await c.update_one({"_id": 1}, {"$pull": {"tags": "a"}})
        d = await c.find_one({"_id": 1})
        return d == {"_id": 1, "tags": ["b"], "hist": [2, 3, 4]}, f"got {d}"

    async def array_filters() -> bool:
        c = await fresh("p_af")
        await c.insert_one({"_id": 1, "items": [{"id": 1, "s": "p"}, {"id": 2, "s": "p"}]})
        await c.update_one(
            {"_id": 1}, {"$set": {"items.$[it].s": "ok"}}, array_filters=[{"it.id": 2}]
        )
        d = await c.find_one({"_id": 1})
        return d["items"] == [{"id": 1, "s": "p"}, {"id": 2, "s": "ok"}]

    async def positional() -> bool:
        c = await fresh("p_pos")
        await c.insert_one({"_id": 1, "items": [{"id": 1, "s": "p"}, {"id": 2, "s": "p"}]})
        await c.update_one({"_id": 1, "items.id": 2}, {"$set": {"items.$.s": "ok"}})
        d = await c.find_one({"_id": 1})
        return d["items"][1]["s"] == "ok"

    async def counts_distinct() -> bool:
        c = await fresh("p_cnt")
        await c.insert_many([{"k": i % 3} for i in range(30)])
        return (
            await c.count_documents({"k": 1}) == 10
            and await c.estimated_document_count() == 30
            and sorted(await c.distinct("k")) == [0, 1, 2]
        )

    async def agg_lookup_unwind() -> bool:
        a = await fresh("p_la")
        b = await fresh("p_lb")
        await a.insert_many([{"_id": 1, "t": "x"}, {"_id": 2, "t": "y"}])
        await b.insert_many([{"a": 1, "c": "c1"}, {"a": 1, "c": "c2"}, {"a": 2, "c": "c3"}])
        r = await (
            await a.aggregate(
                [
                    {
                        "$lookup": {
                            "from": "p_lb",
                            "localField": "_id",
                            "foreignField": "a",
                            "as": "cs",
                        }
                    },
                    {"$unwind": "$cs"},
                    {"$project": {"_id": 0, "t": 1, "c": "$cs.c"}},
                    {"$sort": {"c": 1}},
                ]
            )
        ).to_list()
        return r == [{"t": "x", "c": "c1"}, {"t": "x", "c": "c2"}, {"t": "y", "c": "c3"}]

    async def agg_facet_count() -> bool:
        c = await fresh("p_fac")
        await c.insert_many([{"k": i % 2, "v": i} for i in range(10)])
        r = await (
            await c.aggregate(
                [
                    {
                        "$facet": {
                            "total": [{"$count": "n"}],
                            "top": [
                                {"$sort": {"v": -1}},
                                {"$limit": 2},
                                {"$project": {"_id": 0, "v": 1}},
                            ],
                        }
                    }
                ]
            )
        ).to_list()
        return r == [{"total": [{"n": 10}], "top": [{"v": 9}, {"v": 8}]}]

    async def agg_date_group() -> bool:
        c = await fresh("p_dg")
        base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        await c.insert_many([{"at": base + dt.timedelta(hours=12 * i)} for i in range(6)])
        r = await (
            await c.aggregate(
                [
                    {
                        "$group": {
                            "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}},
                            "n": {"$sum": 1},
                        }
                    },
                    {"$sort": {"_id": 1}},
                ]
            )
        ).to_list()
        return r == [{"_id": f"2026-03-0{d}", "n": 2} for d in (1, 2, 3)]

    async def agg_addfields_expr() -> bool:
        c = await fresh("p_expr")
        await c.insert_many([{"a": 1, "b": 2}, {"a": 3, "b": 1}])
        r = await c.find({"$expr": {"$gt": ["$a", "$b"]}}, {"_id": 0}).to_list()
        r2 = await (
            await c.aggregate(
                [{"$addFields": {"s": {"$add": ["$a", "$b"]}}}, {"$project": {"_id": 0, "s": 1}}]
            )
        ).to_list()
        return r == [{"a": 3, "b": 1}] and sorted(x["s"] for x in r2) == [3, 4]

    async def partial_unique_index() -> bool:
        c = await fresh("p_pi")
        await c.create_index("slug", unique=True, partialFilterExpression={"status": "published"})
        await c.insert_one({"slug": "s", "status": "draft"})
        await c.insert_one({"slug": "s", "status": "draft"})
        await c.insert_one({"slug": "s", "status": "published"})
        try:
            await c.insert_one({"slug": "s", "status": "published"})
        except DuplicateKeyError:
            return True
        return False

    async def sparse_unique_index() -> bool:
        c = await fresh("p_sp")
        await c.create_index("ext", unique=True, sparse=True)
        await c.insert_many([{"a": 1}, {"a": 2}])  # both missing ext: allowed
        return await c.count_documents({}) == 2

    async def compound_unique() -> bool:
        c = await fresh("p_cu")
        await c.create_index([("user", 1), ("article", 1)], unique=True)
        await c.insert_one({"user": 1, "article": 1})
        await c.insert_one({"user": 1, "article": 2})
        try:
            await c.insert_one({"user": 1, "article": 1})
        except DuplicateKeyError:
            return True
        return False

    async def text_search() -> bool:
        c = await fresh("p_txt")
        await c.create_index([("title", "text"), ("body", "text")])
        await c.insert_many(
            [{"title": "Election results", "body": "votes"}, {"title": "Football", "body": "goals"}]
        )
        r = await c.find({"$text": {"$search": "election"}}).to_list()
        return len(r) == 1

    async def collation_ci() -> bool:
        from pymongo.collation import Collation

        c = await fresh("p_col")
        await c.insert_many([{"n": "Alice"}, {"n": "alice"}, {"n": "Bob"}])
        r = await c.count_documents({"n": "alice"}, collation=Collation("en", strength=2))
        return r == 2

    async def regex_elem_match() -> bool:
        c = await fresh("p_re")
        await c.insert_many(
            [{"t": "Hello World", "xs": [{"a": 1, "b": 2}]}, {"t": "bye", "xs": [{"a": 1, "b": 3}]}]
        )
        r1 = await c.count_documents({"t": {"$regex": "^hello", "$options": "i"}})
        try:
            r2 = await c.count_documents({"xs": {"$elemMatch": {"a": 1, "b": 3}}})
        except PyMongoError as e:
            return False, f"$regex ok={r1 == 1}; $elemMatch on sub-documents failed: {e}"
        return r1 == 1 and r2 == 1, f"regex={r1} elemMatch={r2}"

    async def projection_skip_getmore() -> bool:
        c = await fresh("p_gm")
        await c.insert_many([{"i": i, "pad": "x" * 100} for i in range(1000)])
        r = await c.find({}, {"_id": 0, "i": 1}).sort("i", 1).skip(10).batch_size(50).to_list()
        return len(r) == 990 and r[0] == {"i": 10} and r[-1] == {"i": 999}

    async def schema_validator() -> bool:
        from pymongo.errors import WriteError

        await db.drop_collection("p_val")
        await db.create_collection(
            "p_val",
            validator={
                "$jsonSchema": {
                    "bsonType": "object",
                    "required": ["title"],
                    "properties": {"title": {"bsonType": "string"}},
                }
            },
        )
        try:
            await db["p_val"].insert_one({"x": 1})
        except WriteError as e:
            return e.code == 121
        return False

    async def datetime_roundtrip() -> bool:
        from bson.codec_options import CodecOptions

        c = (await fresh("p_dt")).with_options(codec_options=CodecOptions(tz_aware=True))
        t = dt.datetime(2026, 5, 17, 10, 11, 12, 123000, tzinfo=dt.UTC)
        await c.insert_one({"_id": 1, "t": t})
        return (await c.find_one({"_id": 1}))["t"] == t

    async def decimal128() -> bool:
        from bson.decimal128 import Decimal128

        c = await fresh("p_dec")
        await c.insert_one({"_id": 1, "price": Decimal128("19.99")})
        d = await c.find_one({"_id": 1})
        return d is not None and d["price"] == Decimal128("19.99")

    async def uuid_id() -> bool:
        import uuid

        from bson.binary import UuidRepresentation
        from bson.codec_options import CodecOptions

        co = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)
        c = (await fresh("p_uuid")).with_options(codec_options=co)
        u = uuid.uuid4()
        await c.insert_one({"_id": u, "v": 1})
        d = await c.find_one({"_id": u})
        return d is not None and d["_id"] == u

    async def find_one_and_update_sort() -> bool:
        c = await fresh("p_fous")
        await c.insert_many([{"p": i, "state": "new"} for i in range(5)])
        d = await c.find_one_and_update(
            {"state": "new"},
            {"$set": {"state": "taken"}},
            sort=[("p", -1)],
            return_document=ReturnDocument.AFTER,
        )
        return d is not None and d["p"] == 4 and d["state"] == "taken"

    async def big_doc() -> bool:
        c = await fresh("p_big")
        await c.insert_one({"_id": 1, "b": "x" * (4 * 1024 * 1024)})
        return len((await c.find_one({"_id": 1}))["b"]) == 4 * 1024 * 1024

    async def rename_and_indexes() -> bool:
        c = await fresh("p_ren")
        await db.drop_collection("p_ren2")
        await c.insert_one({"a": 1})
        await c.create_index("a", name="a_idx")
        await c.drop_index("a_idx")
        await c.rename("p_ren2")
        names = await db.list_collection_names()
        return "p_ren2" in names and "p_ren" not in names

    async def cs_update_lookup_resume() -> bool:
        c = await fresh("p_cs2")
        await db.create_collection("p_cs2")
        await c.insert_one({"_id": 1, "v": 0})
        async with await c.watch(full_document="updateLookup", max_await_time_ms=500) as st:
            await c.update_one({"_id": 1}, {"$set": {"v": 1}})
            ch = None
            for _ in range(20):
                ch = await st.try_next()
                if ch is not None:
                    break
            if ch is None or ch["operationType"] != "update" or ch["fullDocument"]["v"] != 1:
                return False
            token = st.resume_token
        await c.insert_one({"_id": 2})
        async with await c.watch(resume_after=token, max_await_time_ms=500) as st2:
            for _ in range(20):
                ch2 = await st2.try_next()
                if ch2 is not None:
                    return ch2["operationType"] == "insert" and ch2["documentKey"]["_id"] == 2
        return False

    async def cs_pipeline_db_watch() -> bool:
        c = await fresh("p_cs3")
        await db.create_collection("p_cs3")
        async with await db.watch(
            [{"$match": {"operationType": "insert"}}], max_await_time_ms=500
        ) as st:
            await c.insert_one({"x": 1})
            for _ in range(20):
                ch = await st.try_next()
                if ch is not None:
                    return ch["ns"]["coll"] == "p_cs3"
        return False

    async def retryable_majority_writes() -> bool:
        from pymongo import WriteConcern

        c = (await fresh("p_wc")).with_options(write_concern=WriteConcern("majority", j=True))
        r = await c.insert_one({"a": 1})
        return r.acknowledged

    async def server_info() -> str:
        bi = await db.command("buildInfo")
        hello = await client.admin.command("hello")
        return (
            f"version={bi.get('version')} maxWireVersion={hello.get('maxWireVersion')} "
            f"setName={hello.get('setName')} logicalSessionTimeoutMinutes="
            f"{hello.get('logicalSessionTimeoutMinutes')}"
        )

    async def update_ops() -> tuple[bool, str]:
        c = await fresh("p_uops")
        await c.insert_one({"_id": 1, "a": 1, "b": 5, "c": 3, "old": "x", "p": 2})
        await c.update_one(
            {"_id": 1},
            {
                "$unset": {"a": ""},
                "$min": {"b": 2},
                "$max": {"c": 7},
                "$rename": {"old": "new"},
                "$mul": {"p": 3},
                "$currentDate": {"ts": True},
            },
        )
        d = await c.find_one({"_id": 1})
        ok = (
            d is not None
            and "a" not in d
            and d["b"] == 2
            and d["c"] == 7
            and d.get("new") == "x"
            and d["p"] == 6
            and isinstance(d.get("ts"), dt.datetime)
        )
        return ok, f"got {d}"

    async def update_many_in_hint() -> bool:
        c = await fresh("p_umi")
        await c.create_index([("published", 1), ("_id", 1)])
        await c.insert_many([{"_id": i, "published": False} for i in range(20)])
        batch = (
            await c.find({"published": False})
            .sort("_id", 1)
            .limit(5)
            .hint([("published", 1), ("_id", 1)])
            .to_list()
        )
        ids = [d["_id"] for d in batch]
        r = await c.update_many({"_id": {"$in": ids}}, {"$set": {"published": True}})
        return ids == [0, 1, 2, 3, 4] and r.modified_count == 5

    async def max_time_comment() -> bool:
        c = await fresh("p_mtc")
        await c.insert_one({"a": 1})
        r = await c.find({"a": 1}).max_time_ms(1000).comment("bench").to_list()
        return len(r) == 1

    async def ttl_expiry() -> tuple[bool, str]:
        c = await fresh("p_ttlx")
        await c.create_index("expires_at", expireAfterSeconds=0)
        await c.insert_one({"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)})
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 75:
            if await c.count_documents({}) == 0:
                return True, f"expired doc removed after {time.perf_counter() - t0:.0f}s"
            await asyncio.sleep(2)
        return False, "expired doc still present after 75s"

    # ---- wider query/aggregation surface (one small collection, known answers)
    async def seed_wide() -> Any:
        c = await fresh("p_wide")
        await c.insert_many(
            [
                {
                    "_id": i,
                    "cat": ["news", "sport", "opinion"][i % 3],
                    "n": i,
                    "tags": [f"t{i % 4}", f"t{(i + 1) % 4}"],
                    "meta": {"score": i * 10, "lang": "en"},
                    "title": f"Title {i}",
                    "at": dt.datetime(2026, 1, 1 + i, 12, tzinfo=dt.UTC),
                    "comments": [{"u": "a", "ok": True}, {"u": f"u{i}", "ok": i % 2 == 0}],
                }
                for i in range(9)
            ]
        )
        return c

    async def agg(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        c = await seed_wide()
        return await (await c.aggregate(pipeline)).to_list()

    wide: list[tuple[str, Callable[[], Awaitable[Any]]]] = []

    def wcase(name: str) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
        def deco(fn: Callable[[], Awaitable[Any]]) -> Any:
            wide.append((name, fn))
            return fn

        return deco

    @wcase("update with aggregation pipeline")
    async def _w1() -> Any:
        c = await seed_wide()
        await c.update_one({"_id": 1}, [{"$set": {"m": {"$multiply": ["$n", 2]}}}])
        d = await c.find_one({"_id": 1})
        return d["m"] == 2, f"got m={d.get('m')}"

    @wcase("$pop / $pull with condition")
    async def _w2() -> Any:
        c = await seed_wide()
        await c.update_one({"_id": 1}, {"$pop": {"tags": 1}})
        await c.update_one({"_id": 2}, {"$pull": {"comments": {"ok": False}}})
        d1, d2 = await c.find_one({"_id": 1}), await c.find_one({"_id": 2})
        return d1["tags"] == ["t1"] and len(d2["comments"]) == 2, f"{d1['tags']} {d2['comments']}"

    @wcase("replace_one upsert / find_one_and_replace / _delete")
    async def _w3() -> Any:
        c = await seed_wide()
        await c.replace_one({"_id": 100}, {"x": 1}, upsert=True)
        r = await c.find_one_and_replace(
            {"_id": 100}, {"x": 2}, return_document=ReturnDocument.AFTER
        )
        d = await c.find_one_and_delete({"_id": 100})
        return r == {"_id": 100, "x": 2} and d == {"_id": 100, "x": 2}

    @wcase("query ops $all/$size/$exists/$type/$not/$nor/$in-regex")
    async def _w4() -> Any:
        c = await seed_wide()
        got = [
            await c.count_documents(q)
            for q in [
                {"tags": {"$all": ["t0", "t1"]}},
                {"tags": {"$size": 2}},
                {"meta.score": {"$exists": True}},
                {"n": {"$type": "int"}},
                {"n": {"$not": {"$gt": 4}}},
                {"$nor": [{"cat": "news"}, {"cat": "sport"}]},
                {"title": {"$in": [re.compile("^Title [12]$")]}},
            ]
        ]
        return got == [3, 9, 9, 9, 5, 3, 2], f"counts {got}"

    @wcase("projection $slice / $elemMatch / positional")
    async def _w5() -> Any:
        c = await seed_wide()
        a = await c.find_one({"_id": 3}, {"comments": {"$slice": 1}, "_id": 0, "n": 1})
        b = await c.find_one({"_id": 3}, {"comments": {"$elemMatch": {"u": "u3"}}, "_id": 0})
        d = await c.find_one({"_id": 3, "comments.u": "u3"}, {"comments.$": 1, "_id": 0})
        exp = [{"u": "u3", "ok": False}]
        ok = (
            a == {"n": 3, "comments": [{"u": "a", "ok": True}]}
            and b == {"comments": exp}
            and d == {"comments": exp}
        )
        return ok, f"{a} | {b} | {d}"

    @wcase("sort by nested field desc + skip/limit")
    async def _w6() -> Any:
        c = await seed_wide()
        r = await c.find({}, {"_id": 1}).sort("meta.score", -1).skip(1).limit(3).to_list()
        return [x["_id"] for x in r] == [7, 6, 5]

    @wcase("$group $push/$addToSet/$first/$max/$avg")
    async def _w7() -> Any:
        r = await agg(
            [
                {"$sort": {"n": 1}},
                {
                    "$group": {
                        "_id": "$cat",
                        "ns": {"$push": "$n"},
                        "langs": {"$addToSet": "$meta.lang"},
                        "first": {"$first": "$n"},
                        "mx": {"$max": "$n"},
                        "avg": {"$avg": "$n"},
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
        return r[0] == {
            "_id": "news",
            "ns": [0, 3, 6],
            "langs": ["en"],
            "first": 0,
            "mx": 6,
            "avg": 3.0,
        }, str(r[:1])

    @wcase("$lookup with let + pipeline")
    async def _w8() -> Any:
        c = await seed_wide()
        o = await fresh("p_wide_o")
        await o.insert_many([{"ref": 1, "v": "a"}, {"ref": 1, "v": "b"}, {"ref": 2, "v": "c"}])
        r = await (
            await c.aggregate(
                [
                    {"$match": {"_id": 1}},
                    {
                        "$lookup": {
                            "from": "p_wide_o",
                            "let": {"id": "$_id"},
                            "pipeline": [
                                {"$match": {"$expr": {"$eq": ["$ref", "$$id"]}}},
                                {"$sort": {"v": 1}},
                                {"$project": {"_id": 0, "v": 1}},
                            ],
                            "as": "os",
                        }
                    },
                    {"$project": {"_id": 0, "os": 1}},
                ]
            )
        ).to_list()
        return r == [{"os": [{"v": "a"}, {"v": "b"}]}], str(r)

    @wcase("$unwind/$sortByCount/$replaceRoot/$mergeObjects")
    async def _w9() -> Any:
        r = await agg(
            [
                {"$unwind": "$tags"},
                {"$sortByCount": "$tags"},
                {"$sort": {"_id": 1}},
                {
                    "$replaceRoot": {
                        "newRoot": {"$mergeObjects": [{"tag": "$_id"}, {"c": "$count"}]}
                    }
                },
            ]
        )
        return r == [{"tag": f"t{i}", "c": c} for i, c in enumerate([5, 5, 4, 4])], str(r)

    @wcase("$bucket / $sample / $unionWith")
    async def _w10() -> Any:
        r = await agg(
            [
                {
                    "$bucket": {
                        "groupBy": "$n",
                        "boundaries": [0, 3, 6, 9],
                        "output": {"c": {"$sum": 1}},
                    }
                }
            ]
        )
        c = db["p_wide"]
        s = await (await c.aggregate([{"$sample": {"size": 3}}])).to_list()
        u = await (
            await c.aggregate(
                [
                    {"$match": {"_id": 0}},
                    {"$unionWith": {"coll": "p_wide", "pipeline": [{"$match": {"_id": 1}}]}},
                ]
            )
        ).to_list()
        return (
            r == [{"_id": 0, "c": 3}, {"_id": 3, "c": 3}, {"_id": 6, "c": 3}]
            and len(s) == 3
            and [x["_id"] for x in u] == [0, 1]
        ), f"{r} {len(s)} {len(u)}"

    @wcase("$out / $merge")
    async def _w11() -> Any:
        c = await seed_wide()
        await db.drop_collection("p_wide_out")
        await (await c.aggregate([{"$match": {"cat": "news"}}, {"$out": "p_wide_out"}])).to_list()
        await (
            await c.aggregate(
                [
                    {"$match": {"cat": "sport"}},
                    {
                        "$merge": {
                            "into": "p_wide_out",
                            "whenMatched": "replace",
                            "whenNotMatched": "insert",
                        }
                    },
                ]
            )
        ).to_list()
        return await db["p_wide_out"].count_documents({}) == 6

    @wcase("$setWindowFields running total")
    async def _w12() -> Any:
        r = await agg(
            [
                {"$match": {"cat": "news"}},
                {
                    "$setWindowFields": {
                        "sortBy": {"n": 1},
                        "output": {
                            "run": {"$sum": "$n", "window": {"documents": ["unbounded", "current"]}}
                        },
                    }
                },
                {"$project": {"_id": 0, "run": 1}},
            ]
        )
        return [x["run"] for x in r] == [0, 3, 9], str(r)

    @wcase("expr: $cond/$ifNull/$switch/$concat/$toUpper/$substrCP/$split")
    async def _w13() -> Any:
        r = await agg(
            [
                {"$match": {"_id": 4}},
                {
                    "$project": {
                        "_id": 0,
                        "a": {"$cond": [{"$gt": ["$n", 3]}, "big", "small"]},
                        "b": {"$ifNull": ["$missing", "dflt"]},
                        "c": {
                            "$switch": {
                                "branches": [{"case": {"$eq": ["$n", 4]}, "then": "four"}],
                                "default": "x",
                            }
                        },
                        "d": {"$toUpper": {"$concat": ["$cat", "-", "$title"]}},
                        "e": {"$substrCP": ["$title", 0, 5]},
                        "f": {"$split": ["$title", " "]},
                    }
                },
            ]
        )
        return r == [
            {
                "a": "big",
                "b": "dflt",
                "c": "four",
                "d": "SPORT-TITLE 4",
                "e": "Title",
                "f": ["Title", "4"],
            }
        ], str(r)

    @wcase("expr: $filter/$map/$reduce/$arrayElemAt/$size")
    async def _w14() -> Any:
        r = await agg(
            [
                {"$match": {"_id": 2}},
                {
                    "$project": {
                        "_id": 0,
                        "f": {"$filter": {"input": "$comments", "as": "c", "cond": "$$c.ok"}},
                        "m": {
                            "$map": {"input": "$tags", "as": "t", "in": {"$concat": ["#", "$$t"]}}
                        },
                        "r": {
                            "$reduce": {
                                "input": [1, 2, 3],
                                "initialValue": 0,
                                "in": {"$add": ["$$value", "$$this"]},
                            }
                        },
                        "e": {"$arrayElemAt": ["$tags", -1]},
                        "s": {"$size": "$tags"},
                    }
                },
            ]
        )
        return r == [
            {
                "f": [{"u": "a", "ok": True}, {"u": "u2", "ok": True}],
                "m": ["#t2", "#t3"],
                "r": 6,
                "e": "t3",
                "s": 2,
            }
        ], str(r)

    @wcase("expr: $dateTrunc/$dateAdd/$year/$dayOfWeek")
    async def _w15() -> Any:
        r = await agg(
            [
                {"$match": {"_id": 0}},
                {
                    "$project": {
                        "_id": 0,
                        "t": {"$dateTrunc": {"date": "$at", "unit": "day"}},
                        "a": {"$dateAdd": {"startDate": "$at", "unit": "hour", "amount": 13}},
                        "y": {"$year": "$at"},
                        "w": {"$dayOfWeek": "$at"},
                    }
                },
            ]
        )
        exp = [
            {
                "t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "a": dt.datetime(2026, 1, 2, 1, tzinfo=dt.UTC),
                "y": 2026,
                "w": 5,
            }
        ]
        return r == exp, str(r)

    @wcase("$group $topN / $count stage")
    async def _w16() -> Any:
        r = await agg(
            [
                {
                    "$group": {
                        "_id": "$cat",
                        "top": {"$topN": {"n": 2, "sortBy": {"n": -1}, "output": "$n"}},
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
        r2 = await (
            await db["p_wide"].aggregate([{"$match": {"n": {"$gte": 5}}}, {"$count": "c"}])
        ).to_list()
        return r[0] == {"_id": "news", "top": [6, 3]} and r2 == [{"c": 4}], f"{r[:1]} {r2}"

    @wcase("2dsphere index + $near")
    async def _w17() -> Any:
        c = await fresh("p_geo")
        await c.create_index([("loc", "2dsphere")])
        await c.insert_many(
            [{"_id": i, "loc": {"type": "Point", "coordinates": [i, 0]}} for i in range(3)]
        )
        r = await c.find(
            {"loc": {"$near": {"$geometry": {"type": "Point", "coordinates": [2.1, 0]}}}}
        ).to_list()
        return [x["_id"] for x in r] == [2, 1, 0], f"order {[x['_id'] for x in r]}"

    @wcase("index with collation + case-insensitive unique")
    async def _w18() -> Any:
        from pymongo.collation import Collation

        c = await fresh("p_cix")
        await c.create_index("name", unique=True, collation=Collation("en", strength=2))
        await c.insert_one({"name": "Alice"})
        try:
            await c.insert_one({"name": "alice"})
        except DuplicateKeyError:
            return True
        return False

    @wcase("hashed index")
    async def _w19() -> Any:
        c = await fresh("p_hash")
        await c.create_index([("k", "hashed")])
        await c.insert_one({"k": 1})
        return await c.count_documents({"k": 1}) == 1

    @wcase("capped collection")
    async def _w20() -> Any:
        await db.drop_collection("p_cap")
        await db.create_collection("p_cap", capped=True, size=4096, max=5)
        await db["p_cap"].insert_many([{"i": i} for i in range(10)])
        r = await db["p_cap"].find({}).to_list()
        return [x["i"] for x in r] == [5, 6, 7, 8, 9], str([x["i"] for x in r])

    @wcase("multikey compound index: tags + sort desc")
    async def _w21() -> Any:
        c = await fresh("p_mk")
        await c.create_index([("status", 1), ("tags", 1), ("published_at", -1)])
        base = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        await c.insert_many(
            [
                {
                    "_id": i,
                    "status": "published" if i % 5 else "draft",
                    "tags": [f"g{i % 3}", f"g{i % 7}"],
                    "published_at": base + dt.timedelta(minutes=i),
                }
                for i in range(200)
            ]
        )
        got = [
            d["_id"]
            async for d in c.find({"status": "published", "tags": "g2"})
            .sort("published_at", -1)
            .limit(20)
        ]
        exp = sorted(
            (i for i in range(200) if i % 5 and "g2" in (f"g{i % 3}", f"g{i % 7}")), reverse=True
        )[:20]
        return got == exp, f"got {got[:5]}... exp {exp[:5]}..."

    @wcase("descending keyset page ($lt + $or tiebreak)")
    async def _w22() -> Any:
        c = await fresh("p_dk")
        await c.create_index([("status", 1), ("published_at", -1), ("_id", -1)])
        base = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        await c.insert_many(
            [
                {
                    "_id": i,
                    "status": "published",
                    "published_at": base + dt.timedelta(minutes=i // 4),
                }
                for i in range(100)
            ]
        )
        seen: list[int] = []
        cond: dict[str, Any] = {}
        for _ in range(20):
            page = (
                await c.find({"status": "published", **cond})
                .sort([("published_at", -1), ("_id", -1)])
                .limit(7)
                .to_list()
            )
            if not page:
                break
            seen += [d["_id"] for d in page]
            lp = page[-1]
            cond = {
                "$or": [
                    {"published_at": {"$lt": lp["published_at"]}},
                    {"published_at": lp["published_at"], "_id": {"$lt": lp["_id"]}},
                ]
            }
        return seen == list(range(99, -1, -1)), f"{len(seen)} docs"

    for name, fn in [
        ("insert_many ordered=False with dup", insert_many_unordered_dup),
        ("bulk_write mixed ops", bulk_write_mixed),
        ("update upsert $setOnInsert/$set/$inc", upsert_set_on_insert),
        ("$addToSet/$push $each $slice/$pull", array_ops),
        ("update with array_filters", array_filters),
        ("positional $ update", positional),
        ("count_documents/estimated/distinct", counts_distinct),
        ("aggregate $lookup/$unwind/$project", agg_lookup_unwind),
        ("aggregate $facet/$count", agg_facet_count),
        ("aggregate $dateToString group", agg_date_group),
        ("$expr query, $addFields", agg_addfields_expr),
        ("partial unique index", partial_unique_index),
        ("sparse unique index", sparse_unique_index),
        ("compound unique index", compound_unique),
        ("text index + $text", text_search),
        ("collation (strength 2)", collation_ci),
        ("$regex / $elemMatch", regex_elem_match),
        ("projection/skip/getMore batches", projection_skip_getmore),
        ("$jsonSchema validator (code 121)", schema_validator),
        ("datetime ms round-trip (tz_aware)", datetime_roundtrip),
        ("Decimal128 value", decimal128),
        ("UUID (standard) _id", uuid_id),
        ("find_one_and_update with sort", find_one_and_update_sort),
        ("4 MB document", big_doc),
        ("rename collection, drop_index", rename_and_indexes),
        ("change stream updateLookup + resume_after", cs_update_lookup_resume),
        ("db.watch with $match pipeline", cs_pipeline_db_watch),
        ("w:majority j:true write", retryable_majority_writes),
        ("$unset/$min/$max/$rename/$mul/$currentDate", update_ops),
        ("outbox poll: sort+limit+hint, update_many $in", update_many_in_hint),
        ("maxTimeMS + comment on find", max_time_comment),
        ("buildInfo/hello", server_info),
    ]:
        await probe(name, fn)
    for name, fn in wide:
        await probe(name, fn)
    if check_ttl:
        await probe("TTL monitor deletes expired doc (<=75 s)", ttl_expiry, timeout=90)
    return out


# --------------------------------------------------------------------------- main


async def run(
    uri: str,
    label: str,
    n: int,
    warmup: int,
    pid: int | None,
    page_ops: int,
    check_ttl: bool,
    probes_only: bool,
) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=10_000, tz_aware=True
    )
    report: dict[str, Any] = {
        "label": label,
        "uri": uri,
        "ops": n,
        "warmup": warmup,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg(),
    }
    try:
        await client.admin.command("ping")
        await client.drop_database(DB)
        print(f"== {label}: feature probes", flush=True)
        report["probes"] = await probes(client, check_ttl)
        do_txn = report["probes"]["txn: exception aborts, nothing visible"]["ok"]
        if probes_only:
            return report
        print(f"== {label}: benchmarks ({n} ops after {warmup} warm-up)", flush=True)
        report["results"], report["notes"] = await bench(client, n, warmup, do_txn, page_ops)
        print(f"  notes: {report['notes']}", flush=True)
        report["loadavg_end"] = os.getloadavg()
        print(f"  load average start {report['loadavg_start']} end {report['loadavg_end']}")
        if pid:
            report["memory"] = rss_kib(pid)
            print(f"  memory after run: {report['memory']}", flush=True)
        await client.drop_database(DB)
    finally:
        await client.close()
    return report


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--uri")
    g.add_argument("--start", choices=["secantus-py", "secantus-rs", "ferretdb"])
    ap.add_argument("--bin", help="server binary (for --start)")
    ap.add_argument("--pid", type=int, help="server pid, for RSS (with --uri)")
    ap.add_argument("--label")
    ap.add_argument("--ops", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--page-ops", type=int, help="ops for the page query (default: --ops)")
    ap.add_argument("--json-out")
    ap.add_argument(
        "--check-ttl",
        action="store_true",
        help="also wait up to 75 s for the TTL monitor to delete an expired doc",
    )
    ap.add_argument("--probes-only", action="store_true", help="feature probes, no benchmarks")
    a = ap.parse_args()
    random.seed(42)
    proc = None
    workdir = None
    try:
        if a.start:
            workdir = Path(tempfile.mkdtemp(prefix=f"dbbench-{a.start}-"))
            proc, uri, startup = start_server(a.start, a.bin, workdir)
            print(f"started {a.start} pid {proc.pid} in {startup:.2f}s ({uri})", flush=True)
            pid = proc.pid
        else:
            uri, pid = a.uri, a.pid
        report = asyncio.run(
            run(
                uri,
                a.label or a.start or uri,
                a.ops,
                a.warmup,
                pid,
                a.page_ops or a.ops,
                a.check_ttl,
                a.probes_only,
            )
        )
        if a.start:
            report["startup_s"] = round(startup, 2)
            report["data_dir_bytes_after_drop"] = sum(
                f.stat().st_size for f in (workdir / "data").rglob("*") if f.is_file()
            )
    except PyMongoError:
        traceback.print_exc()
        raise
    finally:
        if proc is not None:
            stop_server(proc)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(report, indent=2, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
