"""The OpenAPI document declares every answer: statuses follow from each operation's shape."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from broadsheet_shared.auth import StaffPrincipal
from broadsheet_shared.errors import Conflict, StaleRevision
from broadsheet_shared.http.contract import PROBLEM_REF, install_contract, raises
from broadsheet_shared.http.problems import PROBLEM_JSON

pytestmark = pytest.mark.unit


class Body(BaseModel):
    title: str


def document() -> dict[str, Any]:
    app = FastAPI()
    install_contract(app)
    router = APIRouter()

    @router.get("/public")
    async def public() -> list[str]:
        return []

    @router.get("/things/{thing_id}")
    async def thing(thing_id: Annotated[str, Path(pattern="^[0-9a-f]{24}$")]) -> str:
        return thing_id

    @router.post("/things", responses=raises(Conflict, StaleRevision))
    async def create(body: Body, _: StaffPrincipal) -> str:
        return body.title

    @router.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>"

    @router.post("/page", response_class=HTMLResponse, status_code=303)
    async def post_page() -> str:
        return ""

    @router.get(
        "/page/download",
        responses={200: {"content": {"application/json": {}}}, 400: {"content": {"text/html": {}}}},
    )
    async def download() -> list[str]:
        return []

    # A router included after the contract is installed is declared like the others: the
    # statuses are worked out when the document is generated.
    app.include_router(router)
    return app.openapi()


def statuses(doc: dict[str, Any], path: str, method: str) -> set[str]:
    return set(doc["paths"][path][method]["responses"])


def test_every_operation_may_be_rate_limited_or_meet_a_service_down() -> None:
    assert statuses(document(), "/public", "get") == {"200", "429", "503", "504"}


def test_a_path_parameter_may_name_nothing_or_be_refused() -> None:
    assert {"404", "422"} <= statuses(document(), "/things/{thing_id}", "get")


def test_staff_routes_declare_401_403_and_bodies_their_refusals() -> None:
    assert statuses(document(), "/things", "post") == {
        "200", "400", "401", "403", "409", "412", "413", "415", "422", "429", "503", "504"
    }  # fmt: skip


def test_errors_are_problem_documents_with_their_headers() -> None:
    doc = document()
    responses = doc["paths"]["/things"]["post"]["responses"]
    for status, response in responses.items():
        if int(status) >= 400:
            assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, status
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    schemas = doc["components"]["schemas"]
    assert {"type", "title", "status", "detail", "instance"} <= set(
        schemas["Problem"]["properties"]
    )
    assert "HTTPValidationError" not in schemas


def test_a_page_answers_its_errors_as_pages_or_problems() -> None:
    content = document()["paths"]["/page"]["get"]["responses"]["503"]["content"]
    assert set(content) == {PROBLEM_JSON, "text/html"}


def test_a_file_whose_errors_are_pages_says_so_on_every_error() -> None:
    responses = document()["paths"]["/page/download"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json"}
    for status in ("400", "503"):
        assert set(responses[status]["content"]) == {PROBLEM_JSON, "text/html"}, status


def test_a_redirect_has_no_body() -> None:
    responses = document()["paths"]["/page"]["post"]["responses"]
    assert "content" not in responses["303"]
    # Still a page route: its form's errors are pages.
    assert set(responses["503"]["content"]) == {PROBLEM_JSON, "text/html"}


def test_the_document_is_declared_once() -> None:
    app = FastAPI()
    install_contract(app)
    assert app.openapi() is app.openapi()
