"""Runs the real `broadsheet-run` supervisor with a dummy app in place of each service.

The services are written alongside the devstack; the supervisor's behaviour (start order,
readiness, environment, stopping, no orphans) is tested with this stand-in. The test puts this
folder on PYTHONPATH so the uvicorn children can import `dummy_app`.
"""

from __future__ import annotations

import dataclasses
import sys

from broadsheet_devstack import run, services

services.SERVICES = tuple(
    dataclasses.replace(spec, app_factory="dummy_app:create_app") for spec in services.SERVICES
)

if __name__ == "__main__":
    raise SystemExit(run.main(sys.argv[1:]))
