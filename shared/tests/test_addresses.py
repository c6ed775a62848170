import hashlib

import pytest

from broadsheet_shared.addresses import AddressDigest, mailbox_key


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("Name+news@Example.org", "name@example.org"),
        ("name+a+b@example.org", "name@example.org"),
        ("name@example.org", "name@example.org"),
        ("+only@example.org", "+only@example.org"),
    ],
)
def test_plus_addressed_mail_is_one_mailbox(address: str, mailbox: str) -> None:
    assert mailbox_key(address) == mailbox


def test_address_digest_is_keyed_not_a_bare_hash() -> None:
    address = "ada@example.org"
    digest = AddressDigest(b"k" * 32)
    assert digest(address) == digest("  Ada@Example.ORG ")  # the normalized address
    # Nobody without the key confirms an address by hashing a guess.
    assert digest(address) != hashlib.sha256(address.encode()).hexdigest()
    assert AddressDigest(b"another key, another platform")(address) != digest(address)
    assert "k" * 32 not in repr(digest)
