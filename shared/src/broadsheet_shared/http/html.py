"""What every HTML page the platform renders must not carry, whatever the services stored.

HTML forbids control characters other than ASCII whitespace and the noncharacters (U+FDD0-FDEF
and the last two code points of each plane): the W3C checker rejects a page with any of them.
The services clean what readers type (comments' ``clean_text``), but a section name, a title or
an imported text reaches the page from elsewhere: a staff API fuzzed by schemathesis stored a
section name with U+009D, and every reader page's navigation then failed validation. Templates
drop them from every expression they print (Jinja's ``finalize``).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
# The body of a regular-expression character class, its controls escaped so that a JSON
# Schema pattern can carry it (the articles API refuses these in what staff write).
FORBIDDEN_IN_HTML = r"\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef" + _NONCHARACTERS
FORBIDDEN_CODE_POINTS = re.compile(f"[{FORBIDDEN_IN_HTML}]")


def without_forbidden_code_points(value: Any) -> Any:
    """``value`` with the code points HTML forbids taken out; markup stays markup, and what
    is not text is left as it is."""
    if not isinstance(value, str) or not FORBIDDEN_CODE_POINTS.search(value):
        return value
    cleaned = FORBIDDEN_CODE_POINTS.sub("", value)
    return Markup(cleaned) if isinstance(value, Markup) else cleaned  # noqa: S704
