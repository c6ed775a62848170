"""Email addresses as the platform takes and compares them."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import EmailStr, Field

from broadsheet_shared.identifiers import EMAIL_DOMAIN_PATTERN

# An address a reader or editor gives: email-validator's rules, and the schema says the one it
# cannot (no special-use domain); the pattern only describes, email-validator decides.
Email = Annotated[
    EmailStr, Field(max_length=254, json_schema_extra={"pattern": EMAIL_DOMAIN_PATTERN})
]


def normalize_email(email: str) -> str:
    """The form an address is stored and compared in: trimmed and lowercased."""
    return email.strip().lower()


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, for limits, cooldowns and bans: ``name+tag@host`` and
    ``name@host`` are one mailbox, so plus-addressing cannot multiply anyone's allowance."""
    local, at, domain = normalize_email(email).rpartition("@")
    if not at:
        return normalize_email(email)
    return f"{local.split('+', 1)[0] or local}@{domain}"


@dataclass(frozen=True)
class AddressDigest:
    """A stable identity for an address that does not reveal it: HMAC-SHA256 of the normalized
    address under the platform's address digest key (the ``ADDRESS_DIGEST_KEY`` setting), in hex.

    Keyed, so a reader of the events (or of a link carrying a digest) cannot confirm an address
    by hashing a guess. Each service's composition root builds one from its settings and passes
    it to every use case that digests an address: the services that compare digests must share
    the key.
    """

    key: bytes = field(repr=False)

    def __call__(self, email: str) -> str:
        return hmac.new(self.key, normalize_email(email).encode(), hashlib.sha256).hexdigest()
