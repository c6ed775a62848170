"""Reading a JSON request body by hand (for a route that also takes a form, say).

FastAPI's own body parsing already answers 400 for a body it cannot parse; a route that calls
``request.json()`` itself gets the raw exceptions, and JSON nested deeper than the parser's
recursion limit (a few kilobytes of ``[``) raises RecursionError, which is no ValueError and
became a 500. Every such route reads its body here instead.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from broadsheet_shared.http.problems import Problem


async def read_json(request: Request) -> Any:
    """The parsed body; a 422 problem for text that is not JSON, 400 for JSON nested too
    deeply to parse (the status the gateway's depth check answers)."""
    body = await request.body()
    try:
        return json.loads(body)
    except RecursionError:
        raise Problem(400, "The body is nested too deeply.") from None
    except ValueError:
        raise Problem(422, "The body is not valid JSON.") from None
