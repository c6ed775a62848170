"""The comments service, dying the moment a posted comment is committed (scenario 2).

``uvicorn kill_after_commit:create_app --factory`` runs the real comments app with one change,
made here and never in production code: after a unit of work that emitted ``comment.posted``
commits, the process SIGKILLs itself, before the relay is woken and before the reader's POST is
answered. Every other unit of work (the relay's, the consumers') runs as it always does.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI

from broadsheet_comments.main import create_app as create_comments_app
from broadsheet_shared.events import CommentPostedV1
from broadsheet_shared.unit_of_work import MongoUnitOfWork, Transaction

T = TypeVar("T")
_commit = MongoUnitOfWork.run


async def _run_then_die(
    self: MongoUnitOfWork,
    work: Callable[[Transaction], Awaitable[T]],
    *,
    timeout: float | None = None,
) -> T:
    emitted: list[object] = []

    async def watched(tx: Transaction) -> T:
        result = await work(tx)
        emitted[:] = tx.events  # the last attempt's events are the committed ones
        return result

    result = await _commit(self, watched, timeout=timeout)
    if any(isinstance(event, CommentPostedV1) for event in emitted):
        os.kill(os.getpid(), signal.SIGKILL)
    return result


def create_app() -> FastAPI:
    MongoUnitOfWork.run = _run_then_die  # type: ignore[method-assign]
    return create_comments_app()
