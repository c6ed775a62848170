"""HTTP routes: public subscription endpoints and the staff view of deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from broadsheet_notifications.commands import (
    ConfirmAddress,
    FollowArticle,
    RetryDelivery,
    SuppressAddress,
    Unsubscribe,
)
from broadsheet_notifications.domain import DeliveryState
from broadsheet_notifications.schemas import (
    ConfirmationView,
    DeliveryPage,
    DeliveryView,
    FollowRequest,
    FollowResponse,
    SuppressRequest,
    SuppressResult,
    UnsubscribeResult,
    UnsubscribeView,
)
from broadsheet_notifications.service import SubscriptionService
from broadsheet_notifications.staff import StaffService
from broadsheet_shared.auth import StaffPrincipal
from broadsheet_shared.http.clients import client_address

router = APIRouter()

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
Token = Annotated[str, Path(min_length=1, max_length=512)]
Slug = Annotated[str, Path(min_length=1, max_length=200)]


async def subscriptions(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.container.subscriptions
    return service


async def staff(request: Request) -> StaffService:
    service: StaffService = request.app.state.container.staff
    return service


async def client_id(request: Request) -> str:
    trusted: list[str] = request.app.state.settings.trusted_proxies
    return client_address(request, trusted)


Subscriptions = Annotated[SubscriptionService, Depends(subscriptions)]
Staff = Annotated[StaffService, Depends(staff)]
ClientId = Annotated[str, Depends(client_id)]


@router.post(
    "/api/articles/{slug}/followers",
    status_code=202,
    response_model=FollowResponse,
    responses={404: _PROBLEM, 422: _PROBLEM, 429: _PROBLEM},
    tags=["subscriptions"],
)
async def follow_article(
    slug: Slug, body: FollowRequest, service: Subscriptions, client: ClientId
) -> FollowResponse:
    return FollowResponse(status=await service.follow(FollowArticle(slug, str(body.email), client)))


@router.get(
    "/api/subscriptions/confirm/{token}",
    response_model=ConfirmationView,
    responses={400: _PROBLEM, 404: _PROBLEM},
    tags=["subscriptions"],
)
async def confirmation(token: Token, service: Subscriptions) -> ConfirmationView:
    return ConfirmationView(**await service.confirmation(token))


@router.post(
    "/api/subscriptions/confirm/{token}",
    response_model=ConfirmationView,
    responses={400: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM},
    tags=["subscriptions"],
)
async def confirm(token: Token, service: Subscriptions) -> ConfirmationView:
    return ConfirmationView(**await service.confirm(ConfirmAddress(token)))


@router.get(
    "/api/subscriptions/unsubscribe/{token}",
    response_model=UnsubscribeView,
    responses={400: _PROBLEM, 404: _PROBLEM},
    tags=["subscriptions"],
)
async def unsubscription(token: Token, service: Subscriptions) -> UnsubscribeView:
    return UnsubscribeView(**await service.unsubscription(token))


@router.post(
    "/api/subscriptions/unsubscribe/{token}",
    response_model=UnsubscribeResult,
    responses={400: _PROBLEM, 404: _PROBLEM},
    tags=["subscriptions"],
)
async def unsubscribe(token: Token, service: Subscriptions) -> UnsubscribeResult:
    # The body (RFC 8058 "List-Unsubscribe=One-Click", JSON or nothing) carries no information:
    # the signed token alone says what to unsubscribe, with no cookie or login.
    return UnsubscribeResult(**await service.unsubscribe(Unsubscribe(token)))


@router.get(
    "/api/editor/notifications/deliveries",
    response_model=DeliveryPage,
    responses={401: _PROBLEM, 422: _PROBLEM},
    tags=["staff"],
)
async def list_deliveries(
    _: StaffPrincipal,
    service: Staff,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> DeliveryPage:
    items, next_cursor = await service.deliveries(state, limit, cursor)
    return DeliveryPage(items=[DeliveryView.of(d) for d in items], next_cursor=next_cursor)


@router.post(
    "/api/editor/notifications/deliveries/{delivery_id}/retry",
    response_model=DeliveryView,
    responses={401: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM},
    tags=["staff"],
)
async def retry_delivery(
    _: StaffPrincipal,
    service: Staff,
    delivery_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> DeliveryView:
    return DeliveryView.of(await service.retry(RetryDelivery(delivery_id)))


@router.post(
    "/api/editor/notifications/suppressions",
    response_model=SuppressResult,
    responses={401: _PROBLEM, 422: _PROBLEM},
    tags=["staff"],
)
async def suppress_address(
    _: StaffPrincipal, body: SuppressRequest, service: Staff
) -> SuppressResult:
    address = await service.suppress(SuppressAddress(str(body.email)))
    return SuppressResult(email=address.email, state=address.state.value)
