import re

import pytest

from broadsheet_gateway.avatars import identicon

pytestmark = pytest.mark.unit


def test_an_identicon_is_local_svg_drawn_from_the_seed_with_the_author_as_its_text() -> None:
    svg = str(identicon("0123456789abcdef", 'Ann "<b>"'))
    assert svg.startswith(
        '<svg class="avatar" role="img" aria-label="Avatar of Ann &#34;&lt;b&gt;&#34;"'
    )
    assert "http" not in svg  # nothing fetched from anywhere
    assert svg == str(identicon("0123456789abcdef", 'Ann "<b>"'))  # the same author, the same
    other = str(identicon("fedcba9876543210", 'Ann "<b>"'))
    assert other != svg
    # Mirrored: every cell on the left has its twin on the right.
    cells = set(re.findall(r'<rect x="(\d)" y="(\d)" width="1"', svg))
    assert cells
    assert {(str(6 - int(x)), y) for x, y in cells} == cells
    colour = re.search(r'<g fill="(#[0-9a-f]{6})">', svg)
    assert colour is not None


@pytest.mark.parametrize("seed", [None, "", "not-hex-at-all!!", "0123456789ABCDEF", "0" * 64])
def test_no_seed_no_avatar(seed: object) -> None:
    assert str(identicon(seed, "Ann")) == ""
