import pytest

from broadsheet_shared.addresses import mailbox_key


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
