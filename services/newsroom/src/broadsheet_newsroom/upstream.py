"""The one client of the services' staff APIs, and the one place their answers become page
errors: problem+json, 401, 403, 404, 409/412, 422 field errors, 429 and 503/timeouts each turn
into an exception the edge (``api.py``) renders as a page. Every Newsroom use case calls the
services through :meth:`UpstreamClient.call`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

# What a person sees when a service answers a status the Newsroom has no better words for.
_FALLBACK_DETAIL = "The request was refused."


class PageError(Exception):
    """An answer the Newsroom shows as a page with this status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInRequired(PageError):
    status = 401


class NotAllowed(PageError):
    status = 403


class NotFoundPage(PageError):
    status = 404


class Refused(PageError):
    """A 409 (or another 4xx): the service refused what was asked, saying why."""

    status = 409


class StaleVersion(PageError):
    """412: someone saved the article since it was read."""

    status = 409


class FieldErrors(PageError):
    """422: ``fields`` maps a form field to what is wrong with it; ``general`` the rest."""

    status = 422

    def __init__(self, fields: Mapping[str, str], general: list[str]) -> None:
        super().__init__("Some fields need attention.")
        self.fields = dict(fields)
        self.general = general


class TooManyAttempts(PageError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class ServiceUnavailable(PageError):
    status = 503

    def __init__(self, service: str) -> None:
        super().__init__(f"The {service} service is unavailable.")
        self.service = service


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field_errors(problem: Mapping[str, Any]) -> FieldErrors:
    fields: dict[str, str] = {}
    general: list[str] = []
    for error in problem.get("errors") or []:
        loc = [str(part) for part in error.get("loc", [])]
        message = str(error.get("msg", "is not valid"))
        # ["body", "title"] or ["body", "tags", 0]: the form field is the first after "body".
        if len(loc) >= 2 and loc[0] in ("body", "query"):
            fields.setdefault(loc[1], message)
        else:
            general.append(message)
    if not fields and not general:
        general.append(str(problem.get("detail") or _FALLBACK_DETAIL))
    return FieldErrors(fields, general)


def error_for(service: str, response: httpx.Response) -> PageError | None:
    """The page error an answer stands for; None for a success."""
    status = response.status_code
    if status < 400:
        return None
    problem = _problem(response)
    detail = str(problem.get("detail") or problem.get("title") or _FALLBACK_DETAIL)
    if status == 401:
        return SignInRequired("Please sign in again.")
    if status == 403:
        return NotAllowed("Your role may not do this.")
    if status == 404:
        return NotFoundPage("There is no such page.")
    if status == 412:
        return StaleVersion("Someone saved this article since you opened it.")
    if status == 422:
        return _field_errors(problem)
    if status == 429:
        retry_after = response.headers.get("retry-after", "60")
        return TooManyAttempts(int(retry_after) if retry_after.isdigit() else 60)
    if status >= 500:
        return ServiceUnavailable(service)
    return Refused(detail)


class UpstreamClient:
    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_urls = dict(base_urls)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """The service's answer to one request; any refusal raises its :class:`PageError`."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        try:
            response = await self._http.request(
                method,
                self._base_urls[service] + path,
                json=json,
                data=data,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                headers=sent,
            )
        except httpx.HTTPError:
            raise ServiceUnavailable(service) from None
        error = error_for(service, response)
        if error is not None:
            raise error
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        return Answer(response.status_code, body, response.headers)

    async def aclose(self) -> None:
        await self._http.aclose()
