"""Email addresses as the platform takes and compares them."""

from __future__ import annotations

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
