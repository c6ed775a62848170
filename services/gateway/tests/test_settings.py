from __future__ import annotations

import pytest

from broadsheet_gateway.settings import Settings

pytestmark = pytest.mark.unit


def test_the_gateway_has_no_database_settings() -> None:
    # It routes and renders; every database belongs to a service behind it.
    assert not [name for name in Settings.model_fields if name.startswith("mongo")]
