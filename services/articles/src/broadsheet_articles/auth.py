"""Staff accounts and their tokens: sign-in, refresh-token rotation, sign-out and account
management.

Access tokens are short-lived JWTs every service verifies; refresh tokens are one-use random
strings stored only as their SHA-256, rotated on every refresh, and a rotated one presented again
ends its whole chain (someone holds a copy). Signing out ends the chain too.

Sign-in is throttled per (account, client) and per client, never per account alone: an account
limit would let anyone lock staff out by failing on purpose. Failures on one account from many
clients only slow its failed answers down. Disabling an account, or changing its role or
password, ends its earlier tokens everywhere (``StaffAccountChangedV1``).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn
from uuid import uuid4

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from broadsheet_articles.commands import CreateEditor, LogIn, SetPassword, UpdateEditor
from broadsheet_articles.domain import Editor
from broadsheet_articles.repository import EditorRepository, RefreshRecord, RefreshTokenRepository
from broadsheet_articles.service import record
from broadsheet_shared.addresses import normalize_email
from broadsheet_shared.audit import StaffAction, sign_in_failed
from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, InvalidLink, NotFound, Unauthenticated
from broadsheet_shared.events.staff import (
    StaffAccountChangedV1,
    StaffAccountData,
    StaffPasswordLinkData,
    StaffPasswordLinkIssuedV1,
)
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.ratelimit import RateLimit, RateLimiter, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

# -- results and policy --------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class LoginLimits:
    """Attempts per (account, client) and per client; failures per account beyond
    ``slow_after_failures`` only delay each failed answer by ``slowdown_seconds``."""

    per_account_client: RateLimit
    per_client: RateLimit
    slow_after_failures: RateLimit
    slowdown_seconds: float


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHash:
    return PasswordHash(
        (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
    )


_BAD_CREDENTIALS = "Incorrect email or password."
_REFRESH_REFUSED = "The refresh token is invalid or expired."
_LINK_REFUSED = "This set-password link is not valid: it was used already or has expired."


class AuthService:
    def __init__(
        self,
        editors: EditorRepository,
        refresh_tokens: RefreshTokenRepository,
        uow: UnitOfWork,
        *,
        hasher: PasswordHash,
        issuer: TokenIssuer,
        limiter: RateLimiter,
        limits: LoginLimits,
        refresh_ttl: timedelta,
        password_link_ttl: timedelta,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._editors = editors
        self._refresh_tokens = refresh_tokens
        self._uow = uow
        self._sleep = sleep
        self._hasher = hasher
        self._issuer = issuer
        self._limiter = limiter
        self._limits = limits
        self._refresh_ttl = refresh_ttl
        self._password_link_ttl = password_link_ttl
        self._clock = clock
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        # Argon2 is deliberately slow: keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password: str, password_hash: str) -> bool:
        return await asyncio.to_thread(self._hasher.verify, password, password_hash)

    async def _new_editor(self, command: CreateEditor) -> Editor:
        # Without a password, the hash of a secret nobody keeps: no password signs in until
        # the owner sets one through their link.
        password = command.password or secrets.token_urlsafe(32)
        return Editor(
            id=str(uuid4()),
            email=normalize_email(command.email),
            name=command.name,
            role=command.role,
            password_hash=await self._hash(password),
            disabled=False,
            created_at=self._clock(),
        )

    async def ensure_admin(self, email: str, password: str, name: str) -> None:
        """Create the first admin unless the account exists (idempotent, safe across replicas)."""
        if await self._editors.by_email(normalize_email(email)) is not None:
            return
        admin = CreateEditor(email=email, name=name, password=password, role="admin")
        await self._editors.add(await self._new_editor(admin))

    async def login(self, command: LogIn) -> TokenPair:
        email = normalize_email(command.username)
        client = client_key(command.client)  # an IPv6 /64 is one client
        pair_key = f"login:account-client:{email}:{client}"
        by_pair = await self._limiter.hit(pair_key, self._limits.per_account_client)
        by_client = await self._limiter.hit(f"login:client:{client}", self._limits.per_client)
        raise_if_limited(by_pair)
        raise_if_limited(by_client)
        editor = await self._editors.by_email(email)
        if editor is None:
            # Same work as for a real account, so timing does not tell which part was wrong.
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash(secrets.token_hex(16))
            await self._verify(command.password, self._dummy_hash)
            await self._refuse(email, command.client)
        if not await self._verify(command.password, editor.password_hash) or editor.disabled:
            await self._refuse(email, command.client)
        # Whoever knows the password starts afresh from this client.
        await self._limiter.reset(pair_key)
        pair = await self._issue(editor, family=uuid4().hex)
        signed_in = Principal(editor.id, editor.role, editor.name, client=command.client)
        now = self._clock()

        async def work(tx: Transaction) -> None:
            record(tx, signed_in, StaffAction.STAFF_SIGNED_IN, editor.id, now)

        await self._uow.run(work)
        return pair

    async def _refuse(self, email: str, client: str) -> NoReturn:
        """A failed sign-in, recorded in the audit log. Past many failures on one account (from
        any clients) each failed answer waits a little: guessing slows down while the owner,
        whose right password is never delayed or refused, is not locked out."""
        # Sign-in writes nothing else to the database: the entry is a transaction of its own.
        entry = sign_in_failed(email, client, at=self._clock())

        async def work(tx: Transaction) -> None:
            tx.emit(entry)

        await self._uow.run(work)
        failures = await self._limiter.hit(
            f"login:account-failures:{email}", self._limits.slow_after_failures
        )
        if not failures.allowed:
            await self._sleep(self._limits.slowdown_seconds)
        raise Unauthenticated(_BAD_CREDENTIALS)

    async def log_out(self, refresh_token: str) -> None:
        """End the refresh token's whole chain; an unknown or spent token is no error (the
        answer does not tell which tokens exist)."""
        await self._refresh_tokens.revoke_family_of(hash_refresh_token(refresh_token))

    async def refresh(self, refresh_token: str) -> TokenPair:
        record = await self._refresh_tokens.use(hash_refresh_token(refresh_token), self._clock())
        if record is None:
            raise Unauthenticated(_REFRESH_REFUSED)
        if record.used:
            # A rotated token came back: someone holds a copy. End the whole chain.
            await self._refresh_tokens.revoke_family(record.family)
            raise Unauthenticated(_REFRESH_REFUSED)
        editor = await self._editors.by_id(record.editor_id)
        if editor is None or editor.disabled:
            raise Unauthenticated(_REFRESH_REFUSED)
        return await self._issue(editor, family=record.family)

    async def _issue(self, editor: Editor, *, family: str) -> TokenPair:
        now = self._clock()
        refresh_token = secrets.token_urlsafe(32)
        await self._refresh_tokens.add(
            RefreshRecord(
                token_hash=hash_refresh_token(refresh_token),
                editor_id=editor.id,
                family=family,
                expires_at=now + self._refresh_ttl,
                used=False,
            )
        )
        access = self._issuer.issue(
            Principal(subject=editor.id, role=editor.role, name=editor.name), now=now
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            expires_in=int(self._issuer.ttl.total_seconds()),
        )

    async def editors(self) -> list[Editor]:
        return await self._editors.all()

    async def create_editor(self, command: CreateEditor, acting: Principal) -> Editor:
        """Add an account. Without a password its owner is mailed a one-time set-password link
        (``StaffPasswordLinkIssuedV1``, in the same transaction): the admin never knows it."""
        editor = await self._new_editor(command)
        link = (
            None if command.password is not None else self._password_link(editor, editor.created_at)
        )

        async def work(tx: Transaction) -> Editor:
            if not await self._editors.add(editor, tx.session):
                raise Conflict("An editor with this email exists.")
            record(
                tx,
                acting,
                StaffAction.STAFF_CREATED,
                editor.id,
                editor.created_at,
                role=editor.role,
            )
            if link is not None:
                tx.emit(link)
            return editor

        return await self._uow.run(work)

    async def send_password_link(self, editor_id: str, acting: Principal) -> Editor:
        """Mail the account's owner a new one-time set-password link (the first expired unused,
        or they forgot their password). It replaces any earlier link; the password stays until
        the link is used."""
        editor = await self._editors.by_id(editor_id)
        if editor is None:
            raise NotFound("No such editor.")
        if editor.disabled:
            raise Conflict("A disabled account gets no link: enable it first.")
        now = self._clock()
        link = self._password_link(editor, now)

        async def work(tx: Transaction) -> None:
            await self._editors.update(editor, tx.session)
            tx.emit(link)
            record(tx, acting, StaffAction.STAFF_PASSWORD_LINK_SENT, editor.id, now)

        await self._uow.run(work)
        return editor

    def _password_link(self, editor: Editor, now: datetime) -> StaffPasswordLinkIssuedV1:
        """A fresh link for the account (only its hash is kept) and the event that mails it."""
        token = secrets.token_urlsafe(32)
        editor.password_link_hash = hash_refresh_token(token)
        editor.password_link_expires_at = now + self._password_link_ttl
        data = StaffPasswordLinkData(
            staff_id=editor.id,
            email=editor.email,
            name=editor.name,
            token=token,
            expires_at=editor.password_link_expires_at,
        )
        return StaffPasswordLinkIssuedV1(subject=editor.id, data=data)

    async def set_password(self, command: SetPassword) -> None:
        """Spend a set-password link: the password is set, the link works no more, and any
        earlier tokens of the account end. An unknown, spent or expired link reads the same.
        Counted against the client's sign-in allowance: each try costs a password hash."""
        client = client_key(command.client)
        raise_if_limited(await self._limiter.hit(f"login:client:{client}", self._limits.per_client))
        password_hash = await self._hash(command.password)
        now = self._clock()

        async def work(tx: Transaction) -> Editor | None:
            link_hash = hash_refresh_token(command.token)
            editor = await self._editors.take_password_link(link_hash, now, tx.session)
            if editor is None or editor.disabled:
                return None
            editor.password_hash = password_hash
            editor.access_changed_at = now
            await self._editors.update(editor, tx.session)
            await self._refresh_tokens.revoke_editor(editor.id, tx.session)
            data = StaffAccountData(
                staff_id=editor.id, role=editor.role, disabled=False, changed_at=now
            )
            tx.emit(StaffAccountChangedV1(subject=editor.id, data=data))
            owner = Principal(editor.id, editor.role, editor.name, client=command.client)
            record(tx, owner, StaffAction.STAFF_PASSWORD_LINK_USED, editor.id, now)
            return editor

        if await self._uow.run(work) is None:
            raise InvalidLink(_LINK_REFUSED)

    async def update_editor(self, command: UpdateEditor, acting: Principal) -> Editor:
        editor = await self._editors.by_id(command.editor_id)
        if editor is None:
            raise NotFound("No such editor.")
        if editor.id == acting.subject and (
            command.disabled or command.role not in (None, "admin")
        ):
            raise Conflict("Admins cannot disable or demote themselves.")
        # A new role, password or disabled flag ends the account's earlier tokens.
        ends_tokens = any(v is not None for v in (command.role, command.disabled, command.password))
        now = self._clock()
        changed_at = now if ends_tokens else None
        changes = _account_changes(editor, command)
        if command.name is not None:
            editor.name = command.name
        if command.role is not None:
            editor.role = command.role
        if command.disabled is not None:
            editor.disabled = command.disabled
        if command.password is not None:
            editor.password_hash = await self._hash(command.password)
        if changed_at is not None:
            editor.access_changed_at = changed_at

        async def work(tx: Transaction) -> None:
            await self._editors.update(editor, tx.session)
            if editor.disabled or command.password is not None:
                await self._refresh_tokens.revoke_editor(editor.id, tx.session)
            if changed_at is not None:
                data = StaffAccountData(
                    staff_id=editor.id,
                    role=editor.role,
                    disabled=editor.disabled,
                    changed_at=changed_at,
                )
                tx.emit(StaffAccountChangedV1(subject=editor.id, data=data))
            for action, details in changes:
                record(tx, acting, action, editor.id, now, **details)

        await self._uow.run(work)
        return editor


def _account_changes(
    editor: Editor, command: UpdateEditor
) -> list[tuple[StaffAction, dict[str, str]]]:
    """The audit entries of an account update: one per thing that changes."""
    changes: list[tuple[StaffAction, dict[str, str]]] = []
    if command.name is not None and command.name != editor.name:
        changes.append((StaffAction.STAFF_RENAMED, {"from": editor.name, "to": command.name}))
    if command.role is not None and command.role != editor.role:
        changes.append((StaffAction.STAFF_ROLE_CHANGED, {"from": editor.role, "to": command.role}))
    if command.disabled is not None and command.disabled != editor.disabled:
        action = StaffAction.STAFF_DISABLED if command.disabled else StaffAction.STAFF_ENABLED
        changes.append((action, {}))
    if command.password is not None:
        changes.append((StaffAction.STAFF_PASSWORD_SET, {}))
    return changes
