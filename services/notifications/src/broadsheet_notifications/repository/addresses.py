"""Addresses: one document per recipient hash, with its opt-in state."""

from __future__ import annotations

from typing import Any, Protocol

from broadsheet_notifications.domain import Address, AddressState
from broadsheet_shared.mongo import Database, Session

ADDRESSES = "addresses"


class AddressRepository(Protocol):
    async def get(self, recipient: str, session: Session | None) -> Address | None: ...
    async def get_many(
        self, recipients: list[str], session: Session | None
    ) -> dict[str, Address]: ...
    async def save(self, address: Address, session: Session | None) -> None: ...


def address_to_doc(address: Address) -> dict[str, Any]:
    return {
        "_id": address.recipient_hash,
        "email": address.email,
        "state": address.state.value,
        "created_at": address.created_at,
        "confirmed_at": address.confirmed_at,
        "suppressed_at": address.suppressed_at,
    }


def address_from_doc(doc: dict[str, Any]) -> Address:
    return Address(
        recipient_hash=doc["_id"],
        email=doc["email"],
        state=AddressState(doc["state"]),
        created_at=doc.get("created_at"),
        confirmed_at=doc.get("confirmed_at"),
        suppressed_at=doc.get("suppressed_at"),
    )


class MongoAddressRepository:
    def __init__(self, db: Database) -> None:
        self._addresses = db[ADDRESSES]

    async def get(self, recipient: str, session: Session | None) -> Address | None:
        doc = await self._addresses.find_one({"_id": recipient}, session=session)
        return address_from_doc(doc) if doc else None

    async def get_many(self, recipients: list[str], session: Session | None) -> dict[str, Address]:
        if not recipients:
            return {}
        docs = await self._addresses.find({"_id": {"$in": recipients}}, session=session).to_list()
        return {doc["_id"]: address_from_doc(doc) for doc in docs}

    async def save(self, address: Address, session: Session | None) -> None:
        doc = address_to_doc(address)
        await self._addresses.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)
