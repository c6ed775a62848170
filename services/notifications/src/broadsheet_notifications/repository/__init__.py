"""The only code that touches MongoDB: one repository per aggregate, each behind the Protocol
its use cases depend on (the unit tests pass in-memory fakes of the same Protocols).

The collection names and document mappers are exported for the tools that seed a database
directly (tools/bench).
"""

from __future__ import annotations

from dataclasses import dataclass

from broadsheet_notifications.repository.addresses import (
    ADDRESSES,
    AddressRepository,
    MongoAddressRepository,
    address_to_doc,
)
from broadsheet_notifications.repository.articles import (
    ARTICLE_INDEXES,
    ArticleRepository,
    ArticleView,
    MongoArticleRepository,
)
from broadsheet_notifications.repository.digests import DigestRepository, MongoDigestRepository
from broadsheet_notifications.repository.ledger import (
    DELIVERIES,
    LEDGER_INDEXES,
    LEDGER_TTL_INDEX,
    Held,
    LedgerRepository,
    MongoLedgerRepository,
    delivery_to_doc,
    ledger_expiry_indexes,
)
from broadsheet_notifications.repository.subscriptions import (
    SUBSCRIPTION_INDEXES,
    SUBSCRIPTIONS,
    MongoSubscriptionRepository,
    SubscriptionRepository,
    subscription_to_doc,
)
from broadsheet_shared.mongo import Database, IndexSpec

INDEXES: list[IndexSpec] = [*ARTICLE_INDEXES, *SUBSCRIPTION_INDEXES, *LEDGER_INDEXES]


@dataclass(frozen=True)
class MongoRepositories:
    """Every repository, on one database."""

    articles: MongoArticleRepository
    addresses: MongoAddressRepository
    subscriptions: MongoSubscriptionRepository
    ledger: MongoLedgerRepository
    digests: MongoDigestRepository

    @classmethod
    def on(cls, db: Database) -> MongoRepositories:
        return cls(
            articles=MongoArticleRepository(db),
            addresses=MongoAddressRepository(db),
            subscriptions=MongoSubscriptionRepository(db),
            ledger=MongoLedgerRepository(db),
            digests=MongoDigestRepository(db),
        )


__all__ = [
    "ADDRESSES",
    "DELIVERIES",
    "INDEXES",
    "LEDGER_TTL_INDEX",
    "SUBSCRIPTIONS",
    "AddressRepository",
    "ArticleRepository",
    "ArticleView",
    "DigestRepository",
    "Held",
    "LedgerRepository",
    "MongoRepositories",
    "SubscriptionRepository",
    "address_to_doc",
    "delivery_to_doc",
    "ledger_expiry_indexes",
    "subscription_to_doc",
]
