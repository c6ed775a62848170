"""The schema's pattern for an email address says what email-validator refuses, so that the
contract run's "schema-valid" addresses are accepted."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from broadsheet_shared.addresses import Email
from broadsheet_shared.identifiers import EMAIL_DOMAIN_PATTERN

pytestmark = pytest.mark.unit

ADDRESSES = TypeAdapter(Email)


@pytest.mark.parametrize(
    "address",
    ["0@00", "a@0.00", "a@b.1", "a@b.c1", "a@localhost", "a@b.test", "a@b.local.", "a@b.com."],
)
def test_what_the_validator_refuses_the_pattern_refuses(address: str) -> None:
    with pytest.raises(ValidationError):
        ADDRESSES.validate_python(address)
    assert not re.search(EMAIL_DOMAIN_PATTERN, address)


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org",
        "a@b.c",
        "x.y@sub.example.com",
        "a@b.co-m",
        "a@例え.テスト",
        "a@b.рф",
        "a@b.xn--p1ai",
    ],
)
def test_what_the_validator_takes_the_pattern_takes(address: str) -> None:
    ADDRESSES.validate_python(address)
    assert re.search(EMAIL_DOMAIN_PATTERN, address)
