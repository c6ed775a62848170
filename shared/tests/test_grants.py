import pytest
from itsdangerous import URLSafeTimedSerializer

from broadsheet_shared.grants import BadGrant, DataGrants
from broadsheet_shared.testing import tampered

DIGEST = "ab" * 32


def test_a_grant_names_the_digest_it_was_issued_for() -> None:
    grants = DataGrants("k" * 32)
    assert grants.read(grants.issue(DIGEST)) == DIGEST


def test_a_grant_expires() -> None:
    issued = DataGrants("k" * 32).issue(DIGEST)
    with pytest.raises(BadGrant):
        DataGrants("k" * 32, max_age_seconds=-1).read(issued)


def test_a_forged_or_tampered_grant_is_refused() -> None:
    grants = DataGrants("k" * 32)
    with pytest.raises(BadGrant):
        DataGrants("another key" * 4).read(grants.issue(DIGEST))
    with pytest.raises(BadGrant):
        grants.read(tampered(grants.issue(DIGEST)))
    # Signed with the right key under another salt (another kind of token): not a grant.
    other = URLSafeTimedSerializer("k" * 32, salt="broadsheet-notifications-manage").dumps(DIGEST)
    with pytest.raises(BadGrant):
        grants.read(str(other))
