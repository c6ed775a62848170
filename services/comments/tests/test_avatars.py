import hashlib

import pytest
from pydantic import ValidationError

from broadsheet_comments.avatars import Avatars
from broadsheet_comments.settings import Settings

from .conftest import new_comment

pytestmark = pytest.mark.unit


def test_an_author_s_seed_is_keyed_and_the_same_for_every_comment_of_theirs() -> None:
    avatars = Avatars(b"k1")
    ann = new_comment("c1", author_email="Ann@Example.com", author_name="Ann")
    again = new_comment("c2", author_email=" ann@example.com", author_name="Annie")
    bob = new_comment("c3", author_email="bob@example.com", author_name="Ann")
    seed = avatars.seed(ann)
    assert len(seed) == 16
    assert int(seed, 16) >= 0
    assert avatars.seed(again) == seed  # the address decides, not the name
    assert avatars.seed(bob) != seed
    assert Avatars(b"k2").seed(ann) != seed  # keyed: nobody without the key can compute it
    plain = hashlib.sha256(b"ann@example.com").hexdigest()
    assert seed not in (plain[:16], hashlib.md5(b"ann@example.com").hexdigest()[:16])
    # No address (an imported comment): the name seeds it.
    assert avatars.seed(new_comment("c4", author_name="Old")) == avatars.seed(
        new_comment("c5", author_name="Old")
    )


def test_prod_refuses_the_embedded_avatar_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "a-real-key")
    monkeypatch.setenv("ADDRESS_DIGEST_KEY", "d" * 32)
    monkeypatch.setenv("DATA_GRANT_KEY", "g" * 32)
    monkeypatch.setenv("COMMENTS_SIGNING_SECRET", "s" * 32)
    with pytest.raises(ValidationError, match="COMMENTS_AVATAR_KEY"):
        Settings()
    monkeypatch.setenv("COMMENTS_AVATAR_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings()
    monkeypatch.setenv("COMMENTS_AVATAR_KEY", "a" * 32)
    assert Settings().environment == "prod"
