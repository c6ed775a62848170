"""Email addresses as the platform compares them."""

from __future__ import annotations


def normalize_email(email: str) -> str:
    """The form an address is stored and compared in: trimmed and lowercased."""
    return email.strip().lower()
