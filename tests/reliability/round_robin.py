"""A TCP round-robin in front of a service's replicas, as a load balancer would stand there.

Each new connection goes to the next replica in turn; a replica that refuses the connection
(stopped, restarting) is skipped for the next. The replicas list may change while it runs
(``proxy.upstreams.append(port)``). It runs its own event loop in a thread, on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter


class RoundRobin:
    def __init__(self, upstreams: list[int], host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstreams = upstreams  # ports on host, in turn
        self.served: Counter[int] = Counter()  # connections each upstream took
        self._turn = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RoundRobin:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, self.host, 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in range(len(self.upstreams)):
            port = self.upstreams[self._turn % len(self.upstreams)]
            self._turn += 1
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection(self.host, port)
                self.served[port] += 1
                return upstream
        raise ConnectionRefusedError(f"no replica of {self.upstreams} accepts connections")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._connect()
        except OSError:
            writer.close()  # the client sees a dropped connection, as from a real balancer
            return
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )
        for side in (writer, up_writer):
            with contextlib.suppress(OSError, RuntimeError):
                side.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction; at its end pass the half-close on (the other may still be talking)."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()
