"""Authors' avatars: an identicon drawn from the seed the comments service gives each comment
(a keyed digest of the author's address, ``broadsheet_comments.avatars``), as inline SVG.

Made here, in the page: no request to a third party (Gravatar would learn every reader's visits
and a plain hash of every commenter's address), nothing to cache. A five by five pattern,
mirrored left to right (15 bits of the seed), in one colour (another 9 bits) on a light ground;
``role="img"`` with the author's name as its text alternative.
"""

from __future__ import annotations

import colorsys
import re

from markupsafe import Markup, escape

_SEED = re.compile(r"^[0-9a-f]{16}$")
_GRID = 5


def _colour(bits: int) -> str:
    hue = (bits >> 15) % 360 / 360
    red, green, blue = colorsys.hls_to_rgb(hue, 0.42, 0.6)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def identicon(seed: object, name: object) -> Markup:
    """The avatar of the author ``name`` drawn from ``seed``; nothing for a missing seed."""
    if not isinstance(seed, str) or not _SEED.match(seed):
        return Markup("")
    bits = int(seed, 16)
    cells = []
    for row in range(_GRID):
        for column in range((_GRID + 1) // 2):
            if bits >> (row * 3 + column) & 1:
                for x in sorted({column, _GRID - 1 - column}):
                    cells.append(f'<rect x="{x + 1}" y="{row + 1}" width="1" height="1"/>')
    label = escape(f"Avatar of {name}")
    return Markup(  # noqa: S704 - built from digits, a colour and the escaped label only
        f'<svg class="avatar" role="img" aria-label="{label}" viewBox="0 0 7 7" width="40" '
        f'height="40"><rect width="7" height="7" fill="#eeeeee"/>'
        f'<g fill="{_colour(bits)}">{"".join(cells)}</g></svg>'
    )
