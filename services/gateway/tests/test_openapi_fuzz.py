"""schemathesis over the gateway's own routes (the reader site) with stand-in upstreams."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from broadsheet_gateway.main import create_app

from .conftest import unit_settings
from .stubs import Upstreams

pytestmark = pytest.mark.unit

app = create_app(
    unit_settings(write_rate_limit=100_000),
    transport=httpx.ASGITransport(Upstreams().app()),
)
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app  # type: ignore[attr-defined]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    if case.path.endswith("/live"):
        pytest.skip("an endless event stream")
    response = case.call(app=app)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
