"""A stand-in service for the devstack's own tests: the same /healthz and /readyz contract as a
Broadsheet service, plus /env to show what the supervisor passed in.

DUMMY_READY=0 keeps /readyz at 503 forever (a service that never gets ready).
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Response

# The variables a test may ask about; /env never dumps the whole environment.
_VISIBLE_PREFIXES = ("ARTICLES_", "COMMENTS_", "NOTIFICATIONS_", "GATEWAY_", "DUMMY_")
_VISIBLE = {
    "ENVIRONMENT",
    "MONGO_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_TOPIC_PREFIX",
    "PUBLIC_BASE_URL",
    "DATA_DIR",
    "LOG_LEVEL",
}


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(response: Response) -> dict[str, str]:
        if os.environ.get("DUMMY_READY", "1") == "0":
            response.status_code = 503
            return {"status": "not ready"}
        return {"status": "ready"}

    @app.get("/env")
    def env() -> dict[str, str]:
        return {
            key: value
            for key, value in os.environ.items()
            if key in _VISIBLE or key.startswith(_VISIBLE_PREFIXES)
        }

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app
