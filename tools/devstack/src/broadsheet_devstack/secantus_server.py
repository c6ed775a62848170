"""SecantusDB's own server, plus the background transaction reaper that mongod has.

``python -m broadsheet_devstack.secantus_server [secantusd-py flags]``

mongod aborts a transaction that outlives ``transactionLifetimeLimitSeconds`` from a background
thread. secantusd-py reaps such transactions only when another transaction statement reaches its
registry, and a plain write that conflicts with one retries, unbounded, without ever doing so.
So a service killed with SIGKILL in the middle of a transaction could leave the database stuck
for every later writer of the same documents. This wrapper adds the missing sweep, so the local
server recovers the way real MongoDB does, only sooner (``--transaction-lifetime``, default 15 s:
no Broadsheet transaction is meant to stay open for more than a moment).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from secantus import cli
from secantus.server import SecantusDBServer

SWEEP_INTERVAL_SECONDS = 1.0


def reaping_server(lifetime_seconds: float) -> type[SecantusDBServer]:
    class ReapingServer(SecantusDBServer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transaction_lifetime_seconds", lifetime_seconds)
            super().__init__(*args, **kwargs)

        def start(self) -> None:
            super().start()
            threading.Thread(target=self._sweep, name="transaction-reaper", daemon=True).start()

        def _sweep(self) -> None:
            while True:
                time.sleep(SWEEP_INTERVAL_SECONDS)
                self.transactions.prune_expired()

    return ReapingServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--transaction-lifetime", type=float, default=15.0)
    ours, theirs = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    # cli.main builds its server from this module-level name.
    cli.SecantusDBServer = reaping_server(ours.transaction_lifetime)
    result: int = cli.main(theirs)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
