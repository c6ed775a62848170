"""The reader site's static files, fingerprinted: pages link ``/static/site.css?v=<hash>``, and a
request carrying the file's current hash may be cached for a year (the content at that URL
never changes: a new file has a new hash, so a new URL). Without it, or with an old hash, the
file is served for a short while only.

The hashes are taken once, at start: the files ship with the code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

IMMUTABLE = b"public, max-age=31536000, immutable"
# An unfingerprinted (or stale) URL: cached briefly, then revalidated (StaticFiles sends ETag
# and Last-Modified, and answers a conditional revisit with 304).
SHORT = b"public, max-age=300"
HASH_LENGTH = 12


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]


class StaticAssets:
    def __init__(self, directory: Path = STATIC) -> None:
        self.directory = directory
        self._hashes = {
            path.relative_to(directory).as_posix(): _fingerprint(path)
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }
        self._files = StaticFiles(directory=directory)

    def url(self, name: str) -> str:
        """The fingerprinted URL of a static file (a template global)."""
        return f"/static/{name}?v={self._hashes[name]}"

    def read(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def _is_current(self, scope: Scope) -> bool:
        name = Path(self._files.get_path(scope)).as_posix()
        version = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[0]
        return bool(version) and self._hashes.get(name) == version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app mounted at ``/static`` (the mount strips the prefix from ``path``)."""
        cache_control = IMMUTABLE if self._is_current(scope) else SHORT

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                headers.append((b"cache-control", cache_control))
                message = {**message, "headers": headers}
            await send(message)

        await self._files(scope, receive, send_cached)
