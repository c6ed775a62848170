"""HTTP routes: public subscription endpoints and the staff view of deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from broadsheet_notifications.commands import (
    ConfirmAddress,
    ConfirmRequest,
    EndSubscription,
    EraseData,
    FollowArticle,
    RequestDataLink,
    RequestManageLink,
    RetryDelivery,
    SuppressAddress,
    Unsubscribe,
)
from broadsheet_notifications.domain import DeliveryState
from broadsheet_notifications.mydata import MyDataService
from broadsheet_notifications.schemas import (
    ConfirmationView,
    DataExport,
    DataLinkRequest,
    DataLinkResponse,
    DeliveryCount,
    DeliveryPage,
    DeliveryView,
    ErasureResult,
    FollowRequest,
    FollowResponse,
    ManageLinkRequest,
    ManageLinkResponse,
    ManageView,
    SuppressRequest,
    SuppressResult,
    UnsubscribeResult,
    UnsubscribeView,
)
from broadsheet_notifications.service import SubscriptionService
from broadsheet_notifications.staff import StaffService
from broadsheet_shared.auth import ModeratorPrincipal, StaffPrincipal
from broadsheet_shared.errors import Conflict, InvalidLink
from broadsheet_shared.http.clients import TrustedProxies, client_address
from broadsheet_shared.http.contract import raises
from broadsheet_shared.identifiers import (
    DIGEST_PATTERN,
    SIGNED_LINK_PATTERN,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
)

router = APIRouter()

Token = Annotated[str, Path(pattern=SIGNED_LINK_PATTERN)]
Slug = Annotated[str, Path(max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
DeliveryId = Annotated[str, Path(pattern=DIGEST_PATTERN)]
RequestId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]


async def subscriptions(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.container.subscriptions
    return service


async def my_data(request: Request) -> MyDataService:
    service: MyDataService = request.app.state.container.my_data
    return service


async def staff(request: Request) -> StaffService:
    service: StaffService = request.app.state.container.staff
    return service


async def client_id(request: Request) -> str:
    trusted: TrustedProxies = request.app.state.settings.trusted_proxies
    return client_address(request, trusted)


Subscriptions = Annotated[SubscriptionService, Depends(subscriptions)]
MyData = Annotated[MyDataService, Depends(my_data)]
Staff = Annotated[StaffService, Depends(staff)]
ClientId = Annotated[str, Depends(client_id)]


@router.post(
    "/api/articles/{slug}/followers",
    status_code=202,
    response_model=FollowResponse,
    tags=["subscriptions"],
)
async def follow_article(
    slug: Slug, body: FollowRequest, service: Subscriptions, client: ClientId
) -> FollowResponse:
    await service.follow(FollowArticle(slug, str(body.email), client))
    return FollowResponse(status="confirmation_sent")


@router.get(
    "/api/subscriptions/confirm/{token}",
    response_model=ConfirmationView,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def confirmation(token: Token, service: Subscriptions) -> ConfirmationView:
    return ConfirmationView(**await service.confirmation(token))


@router.post(
    "/api/subscriptions/confirm/{token}",
    response_model=ConfirmationView,
    responses=raises(InvalidLink, Conflict),
    tags=["subscriptions"],
)
async def confirm(token: Token, service: Subscriptions) -> ConfirmationView:
    return ConfirmationView(**await service.confirm(ConfirmAddress(token)))


@router.post(
    "/api/subscriptions/confirm/{token}/requests/{request_id}",
    response_model=ConfirmationView,
    responses=raises(InvalidLink, Conflict),
    tags=["subscriptions"],
)
async def confirm_request(
    token: Token, request_id: RequestId, service: Subscriptions
) -> ConfirmationView:
    return ConfirmationView(**await service.confirm_request(ConfirmRequest(token, request_id)))


@router.get(
    "/api/subscriptions/unsubscribe/{token}",
    response_model=UnsubscribeView,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def unsubscription(token: Token, service: Subscriptions) -> UnsubscribeView:
    return UnsubscribeView(**await service.unsubscription(token))


@router.post(
    "/api/subscriptions/unsubscribe/{token}",
    response_model=UnsubscribeResult,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def unsubscribe(token: Token, service: Subscriptions) -> UnsubscribeResult:
    # The body (RFC 8058 "List-Unsubscribe=One-Click", JSON or nothing) carries no information:
    # the signed token alone says what to unsubscribe, with no cookie or login.
    return UnsubscribeResult(**await service.unsubscribe(Unsubscribe(token)))


@router.post(
    "/api/subscriptions/manage",
    status_code=202,
    response_model=ManageLinkResponse,
    tags=["subscriptions"],
)
async def request_manage_link(
    body: ManageLinkRequest, service: Subscriptions, client: ClientId
) -> ManageLinkResponse:
    await service.request_manage_link(RequestManageLink(str(body.email), client))
    return ManageLinkResponse(status="link_sent")


@router.get(
    "/api/subscriptions/manage/{token}",
    response_model=ManageView,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def manage(token: Token, service: Subscriptions) -> ManageView:
    return ManageView(**await service.manage(token))


@router.post(
    "/api/subscriptions/manage/{token}/unsubscribe",
    response_model=ManageView,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def manage_unsubscribe_all(token: Token, service: Subscriptions) -> ManageView:
    return ManageView(**await service.end_subscription(EndSubscription(token, None)))


@router.post(
    "/api/subscriptions/manage/{token}/subscriptions/{subscription_id}/unsubscribe",
    response_model=ManageView,
    responses=raises(InvalidLink),
    tags=["subscriptions"],
)
async def manage_unsubscribe(
    token: Token, subscription_id: RequestId, service: Subscriptions
) -> ManageView:
    return ManageView(**await service.end_subscription(EndSubscription(token, subscription_id)))


@router.post(
    "/api/my-data",
    status_code=202,
    response_model=DataLinkResponse,
    tags=["my-data"],
)
async def request_data_link(
    body: DataLinkRequest, service: MyData, client: ClientId
) -> DataLinkResponse:
    await service.request_link(RequestDataLink(str(body.email), client))
    return DataLinkResponse(status="link_sent")


@router.get(
    "/api/my-data/{token}",
    response_model=DataExport,
    responses=raises(InvalidLink),
    tags=["my-data"],
)
async def export_data(token: Token, service: MyData) -> DataExport:
    return DataExport(**await service.export(token))


@router.post(
    "/api/my-data/{token}/erase",
    response_model=ErasureResult,
    responses=raises(InvalidLink),
    tags=["my-data"],
)
async def erase_data(token: Token, service: MyData) -> ErasureResult:
    await service.erase(EraseData(token))
    return ErasureResult(status="erased")


@router.get(
    "/api/editor/notifications/deliveries",
    response_model=DeliveryPage,
    tags=["staff"],
)
async def list_deliveries(
    _: ModeratorPrincipal,
    service: Staff,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    # The id of the last delivery shown: the page continues below it.
    cursor: Annotated[str | None, Query(pattern=DIGEST_PATTERN)] = None,
) -> DeliveryPage:
    items, next_cursor = await service.deliveries(state, limit, cursor)
    return DeliveryPage(items=[DeliveryView.of(d) for d in items], next_cursor=next_cursor)


@router.get(
    "/api/editor/notifications/deliveries/count",
    response_model=DeliveryCount,
    tags=["staff"],
)
async def count_deliveries(
    _: StaffPrincipal, service: Staff, state: DeliveryState = DeliveryState.FAILED
) -> DeliveryCount:
    """How many deliveries are in a state: any staff may read it (editors' dashboards show the
    failed ones); it names no one."""
    return DeliveryCount(state=state, count=await service.count(state))


@router.post(
    "/api/editor/notifications/deliveries/{delivery_id}/retry",
    response_model=DeliveryView,
    responses=raises(Conflict),
    tags=["staff"],
)
async def retry_delivery(
    staff: ModeratorPrincipal,
    service: Staff,
    delivery_id: DeliveryId,
) -> DeliveryView:
    return DeliveryView.of(await service.retry(RetryDelivery(delivery_id), staff))


@router.post(
    "/api/editor/notifications/suppressions",
    response_model=SuppressResult,
    tags=["staff"],
)
async def suppress_address(
    staff: ModeratorPrincipal, body: SuppressRequest, service: Staff
) -> SuppressResult:
    address = await service.suppress(SuppressAddress(str(body.email)), staff)
    return SuppressResult(email=address.email, state=address.state.value)
