"""The composition root: one place that builds the service from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from broadsheet_notifications.consumers import build_router
from broadsheet_notifications.delivery import DeliveryWorker
from broadsheet_notifications.inbound import InboundSmtpServer, Mailbox, UnsubscribeHandler
from broadsheet_notifications.mail import MailComposer
from broadsheet_notifications.mydata import MyDataService
from broadsheet_notifications.planner import Planner, Policies
from broadsheet_notifications.repository import (
    INDEXES,
    MongoRepositories,
    ledger_expiry_indexes,
)
from broadsheet_notifications.service import FollowLimits, SubscriptionService
from broadsheet_notifications.settings import Settings
from broadsheet_notifications.smtp import Mailer, SmtpPool
from broadsheet_notifications.staff import StaffService
from broadsheet_notifications.tokens import LinkSigner
from broadsheet_shared.addresses import AddressDigest
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.inbox import MongoInbox
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.ratelimit import MongoRateLimiter, RateLimit
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import secret_value
from broadsheet_shared.staff_access import MongoStaffAccess


@dataclass
class Container:
    settings: Settings
    address_digest: AddressDigest
    runtime: ServiceRuntime
    repositories: MongoRepositories
    signer: LinkSigner
    composer: MailComposer
    mailer: Mailer
    planner: Planner
    subscriptions: SubscriptionService
    my_data: MyDataService
    staff: StaffService
    worker: DeliveryWorker
    router: EventRouter
    staff_access: MongoStaffAccess
    inbound: InboundSmtpServer | None = None

    async def start(self) -> None:
        await self.runtime.start(self.router)
        if self.inbound is not None:
            await self.inbound.start()
            self.runtime.add_task("inbound-smtp", self.inbound.serve)
        if self.settings.run_workers:
            concurrency = self.settings.delivery_concurrency
            self.runtime.add_task("delivery-worker", lambda: self.worker.run(concurrency))

    async def stop(self) -> None:
        await self.runtime.stop()
        await self.mailer.close()


def bootstrap(settings: Settings, *, mailer: Mailer | None = None) -> Container:
    # Keyed as the comments service keys author_email_hash, so self-replies match.
    digest = AddressDigest(settings.address_digest_key.get_secret_value().encode())
    runtime = ServiceRuntime(
        settings, indexes=[*INDEXES, *ledger_expiry_indexes(settings.ledger_retention_seconds)]
    )
    repos = MongoRepositories.on(runtime.db)
    signer = LinkSigner(
        settings.signing_secret.get_secret_value(),
        confirm_max_age_seconds=settings.confirm_token_max_age_seconds,
    )
    composer = MailComposer(
        mail_from=settings.mail_from,
        reply_to=settings.reply_to,
        public_base_url=settings.public_base_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        signer=signer,
    )
    mailer = mailer or SmtpPool(
        settings.smtp_host,
        settings.smtp_port,
        size=settings.smtp_pool_size,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=secret_value(settings.smtp_password),
        timeout=settings.smtp_timeout_seconds,
    )
    worker = DeliveryWorker(
        repos.ledger,
        runtime.uow,
        composer,
        mailer,
        settings.retry_policy,
        batch_size=settings.delivery_batch_size,
        poll_seconds=settings.delivery_poll_seconds,
        lease_seconds=settings.delivery_lease_seconds,
    )
    policies = Policies(
        retry=settings.retry_policy,
        digest=settings.digest_policy,
        confirmation_limit=settings.confirmation_limit,
    )
    limiter = MongoRateLimiter(runtime.db)
    planner = Planner(
        repos.articles,
        repos.addresses,
        repos.subscriptions,
        repos.ledger,
        repos.digests,
        limiter,
        policies,
        digest,
    )
    window = settings.follow_limit_window_seconds
    # Each request a reader makes by giving an address (a follow, a manage link, a my-data
    # link) has counters of its own under these limits.
    limits = FollowLimits(
        per_client=RateLimit(settings.follow_limit_per_client, window),
        per_address=RateLimit(settings.follow_limit_per_address, window),
    )
    subscriptions = SubscriptionService(
        repos.articles,
        repos.addresses,
        repos.subscriptions,
        repos.ledger,
        runtime.uow,
        planner,
        signer,
        limiter,
        limits,
        digest,
        on_queued=worker.wake,
    )
    my_data = MyDataService(
        repos.articles,
        repos.addresses,
        repos.subscriptions,
        repos.ledger,
        runtime.uow,
        planner,
        signer,
        DataGrants(settings.data_grant_key.get_secret_value()),
        limiter,
        limits,
        digest,
        on_queued=worker.wake,
    )
    staff = StaffService(
        repos.addresses,
        repos.ledger,
        runtime.uow,
        settings.retry_policy,
        digest,
        on_queued=worker.wake,
    )
    staff_access = MongoStaffAccess(runtime.db)
    router = build_router(planner, MongoInbox(runtime.mongo, runtime.db), worker.wake, staff_access)
    inbound = None
    if settings.inbound_smtp_port:
        mailbox = Mailbox(settings.unsubscribe_mailto)
        inbound = InboundSmtpServer(
            UnsubscribeHandler(mailbox, subscriptions.unsubscribe),
            host=settings.inbound_smtp_host,
            port=settings.inbound_smtp_port,
            max_message_bytes=settings.inbound_smtp_max_message_bytes,
            hostname=mailbox.domain,
        )
    return Container(
        settings=settings,
        address_digest=digest,
        runtime=runtime,
        repositories=repos,
        signer=signer,
        composer=composer,
        mailer=mailer,
        planner=planner,
        subscriptions=subscriptions,
        my_data=my_data,
        staff=staff,
        worker=worker,
        router=router,
        staff_access=staff_access,
        inbound=inbound,
    )
