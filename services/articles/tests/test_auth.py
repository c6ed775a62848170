from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from broadsheet_articles.commands import CreateEditor, LogIn, SetPassword, UpdateEditor
from broadsheet_shared.auth import Principal
from broadsheet_shared.errors import (
    Conflict,
    InvalidLink,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from broadsheet_shared.events import StaffActionRecordedV1
from broadsheet_shared.events.staff import StaffAccountChangedV1, StaffPasswordLinkIssuedV1

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"
ADMIN = Principal(subject="a0", role="admin", name="Boss", client="198.51.100.7")


async def make_admin(auth_world: Any) -> None:
    await auth_world.service.ensure_admin("Boss@Example.org", PASSWORD, "Boss")


def log_in(username: str, password: str, client: str = "1.2.3.4") -> LogIn:
    return LogIn(username=username, password=password, client=client)


async def test_the_first_admin_is_created_once(auth_world: Any) -> None:
    await make_admin(auth_world)
    await make_admin(auth_world)
    admins = await auth_world.service.editors()
    assert [(e.email, e.role) for e in admins] == [("boss@example.org", "admin")]
    assert admins[0].password_hash.startswith("$argon2id$")


async def test_login_issues_a_verifiable_short_lived_token(auth_world: Any) -> None:
    await make_admin(auth_world)
    pair = await auth_world.service.login(log_in("boss@example.org", PASSWORD))
    principal = auth_world.verifier.verify(pair.access_token)
    assert principal.role == "admin"
    assert principal.name == "Boss"
    assert pair.expires_in <= 15 * 60


async def test_wrong_password_and_unknown_user_look_the_same(auth_world: Any) -> None:
    await make_admin(auth_world)
    with pytest.raises(Unauthenticated) as wrong_password:
        await auth_world.service.login(log_in("boss@example.org", "nope"))
    with pytest.raises(Unauthenticated) as unknown_user:
        await auth_world.service.login(log_in("who@example.org", "nope"))
    assert wrong_password.value.detail == unknown_user.value.detail
    assert wrong_password.value.extensions == unknown_user.value.extensions == {}


async def test_repeated_attempts_are_throttled_per_account_and_client(auth_world: Any) -> None:
    await make_admin(auth_world)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in("boss@example.org", "nope", "attacker"))
    # The failing client is refused, even with the right password...
    with pytest.raises(RateLimited) as caught:
        await auth_world.service.login(log_in("boss@example.org", PASSWORD, "attacker"))
    assert caught.value.retry_after == 60
    # ...while the account is not locked: another client signs in with the right password.
    pair = await auth_world.service.login(log_in("boss@example.org", PASSWORD, "owner"))
    assert auth_world.verifier.verify(pair.access_token).role == "admin"


async def test_failures_from_many_clients_slow_the_account_never_lock_it(
    auth_world: Any,
) -> None:
    await make_admin(auth_world)
    for client in range(4):  # four failures (the slow-down threshold) from four clients
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in("boss@example.org", "nope", f"bot{client}"))
    assert auth_world.sleeps == []
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("boss@example.org", "nope", "bot9"))
    assert auth_world.sleeps == [1.5]  # past the threshold each failure is answered late
    await auth_world.service.login(log_in("boss@example.org", PASSWORD, "owner"))
    assert auth_world.sleeps == [1.5]  # and the right password neither waits nor is refused


async def test_signing_in_forgets_the_clients_earlier_failures(auth_world: Any) -> None:
    await make_admin(auth_world)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in("boss@example.org", "typo", "desk"))
    await auth_world.service.login(log_in("boss@example.org", PASSWORD, "desk"))
    for _ in range(2):  # without the reset the second of these would be the 4th of 3
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in("boss@example.org", "typo", "desk"))


async def test_repeated_attempts_are_throttled_per_client(auth_world: Any) -> None:
    for i in range(5):
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in(f"u{i}@example.org", "nope"))
    with pytest.raises(RateLimited):
        await auth_world.service.login(log_in("x@example.org", "nope"))


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_chain(auth_world: Any) -> None:
    await make_admin(auth_world)
    first = await auth_world.service.login(log_in("boss@example.org", PASSWORD, "ip"))
    second = await auth_world.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert auth_world.verifier.verify(second.access_token).role == "admin"
    with pytest.raises(Unauthenticated):
        await auth_world.service.refresh(first.refresh_token)
    # The reuse revoked the family: the newest token is gone too.
    with pytest.raises(Unauthenticated):
        await auth_world.service.refresh(second.refresh_token)


async def test_a_disabled_editor_cannot_log_in_or_refresh(auth_world: Any) -> None:
    await make_admin(auth_world)
    admin = (await auth_world.service.editors())[0]
    acting = Principal(subject=admin.id, role="admin", name="Boss")
    editor = await auth_world.service.create_editor(
        CreateEditor(email="ed@example.org", name="Ed", password="long enough pass"), acting
    )
    pair = await auth_world.service.login(log_in("ed@example.org", "long enough pass", "ip2"))
    await auth_world.service.update_editor(UpdateEditor(editor.id, disabled=True), acting)
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("ed@example.org", "long enough pass", "ip3"))
    with pytest.raises(Unauthenticated):
        await auth_world.service.refresh(pair.refresh_token)
    with pytest.raises(Conflict, match="cannot disable or demote themselves"):
        await auth_world.service.update_editor(UpdateEditor(admin.id, disabled=True), acting)


async def acting_admin_and_editor(auth_world: Any) -> tuple[Principal, Any]:
    await make_admin(auth_world)
    admin = (await auth_world.service.editors())[0]
    acting = Principal(subject=admin.id, role="admin", name="Boss")
    editor = await auth_world.service.create_editor(
        CreateEditor(email="ed@example.org", name="Ed", password="long enough pass"), acting
    )
    return acting, editor


@pytest.mark.parametrize(
    "change",
    [{"disabled": True}, {"role": "moderator"}, {"password": "another long pass"}],
    ids=["disabled", "role", "password"],
)
async def test_an_access_change_is_announced_with_the_change(
    auth_world: Any, change: dict[str, Any]
) -> None:
    acting, editor = await acting_admin_and_editor(auth_world)
    auth_world.clock.advance(seconds=5)
    updated = await auth_world.service.update_editor(UpdateEditor(editor.id, **change), acting)
    [event] = auth_world.uow.of_type(StaffAccountChangedV1)
    assert event.subject == editor.id
    assert event.data.staff_id == editor.id
    assert event.data.changed_at == auth_world.clock() == updated.access_changed_at
    assert (event.data.role, event.data.disabled) == (updated.role, updated.disabled)
    # Articles itself refuses the account's earlier tokens at once, from its own data.
    assert await auth_world.editors.changed_at(editor.id) == auth_world.clock()


async def test_a_new_name_ends_no_tokens(auth_world: Any) -> None:
    acting, editor = await acting_admin_and_editor(auth_world)
    await auth_world.service.update_editor(UpdateEditor(editor.id, name="Edwin"), acting)
    assert auth_world.uow.of_type(StaffAccountChangedV1) == []
    assert await auth_world.editors.changed_at(editor.id) is None


async def test_signing_out_ends_the_refresh_tokens_chain(auth_world: Any) -> None:
    await make_admin(auth_world)
    first = await auth_world.service.login(log_in("boss@example.org", PASSWORD))
    second = await auth_world.service.refresh(first.refresh_token)
    elsewhere = await auth_world.service.login(log_in("boss@example.org", PASSWORD))
    await auth_world.service.log_out(second.refresh_token)
    with pytest.raises(Unauthenticated):
        await auth_world.service.refresh(second.refresh_token)
    # Another sign-in (another chain) is untouched; an unknown token is no error.
    await auth_world.service.refresh(elsewhere.refresh_token)
    await auth_world.service.log_out("never-issued")


async def test_an_email_is_one_account_whatever_its_case(auth_world: Any) -> None:
    await make_admin(auth_world)
    with pytest.raises(Conflict, match="An editor with this email exists"):
        await auth_world.service.create_editor(
            CreateEditor(email=" BOSS@example.org", name="Twin", password="long enough pass"),
            ADMIN,
        )


# -- the audit log -------------------------------------------------------------------------------


def audited(auth_world: Any) -> list[tuple[str, str | None, str, str]]:
    return [
        (e.data.action, e.data.actor_id, e.data.actor_name, e.data.client)
        for e in auth_world.uow.of_type(StaffActionRecordedV1)
    ]


async def test_sign_ins_and_failed_sign_ins_are_recorded_with_the_client(auth_world: Any) -> None:
    await make_admin(auth_world)
    boss = (await auth_world.service.editors())[0]
    await auth_world.service.login(log_in("boss@example.org", PASSWORD, "192.0.2.1"))
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("Boss@example.org", "nope", "192.0.2.2"))
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("who@example.org", "nope", "192.0.2.3"))
    assert audited(auth_world) == [
        ("staff.signed_in", boss.id, "Boss", "192.0.2.1"),
        # Nobody proved who they are: no actor id, the username tried.
        ("staff.sign_in_failed", None, "boss@example.org", "192.0.2.2"),
        ("staff.sign_in_failed", None, "who@example.org", "192.0.2.3"),
    ]
    signed_in = auth_world.uow.of_type(StaffActionRecordedV1)[0]
    assert (signed_in.subject, signed_in.data.actor_role, signed_in.data.target) == (
        boss.id,
        "admin",
        boss.id,
    )


async def test_a_throttled_sign_in_is_not_recorded(auth_world: Any) -> None:
    # The throttle answers before any password is checked: only the attempts it lets through
    # are recorded, so a flood of refused requests cannot flood the log.
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth_world.service.login(log_in("boss@example.org", "nope"))
    with pytest.raises(RateLimited):
        await auth_world.service.login(log_in("boss@example.org", "nope"))
    assert len(audited(auth_world)) == 3


async def test_account_changes_are_recorded_one_entry_per_change(auth_world: Any) -> None:
    editor = await auth_world.service.create_editor(
        CreateEditor(email="ed@example.org", name="Ed", password="long enough pass"), ADMIN
    )
    change = UpdateEditor(
        editor.id, name="Edward", role="moderator", disabled=True, password="another long one"
    )
    await auth_world.service.update_editor(change, ADMIN)
    await auth_world.service.update_editor(UpdateEditor(editor.id, disabled=False), ADMIN)
    entries = auth_world.uow.of_type(StaffActionRecordedV1)
    assert [(e.data.action, e.data.target, e.data.details) for e in entries] == [
        ("staff.created", editor.id, {"role": "editor"}),
        ("staff.renamed", editor.id, {"from": "Ed", "to": "Edward"}),
        ("staff.role_changed", editor.id, {"from": "editor", "to": "moderator"}),
        ("staff.disabled", editor.id, {}),
        ("staff.password_set", editor.id, {}),
        ("staff.enabled", editor.id, {}),
    ]
    assert {(e.data.actor_id, e.data.client) for e in entries} == {("a0", "198.51.100.7")}


async def test_a_refused_account_change_records_nothing(auth_world: Any) -> None:
    await make_admin(auth_world)
    boss = (await auth_world.service.editors())[0]
    acting = Principal(subject=boss.id, role="admin", name="Boss", client="198.51.100.7")
    with pytest.raises(Conflict):
        await auth_world.service.create_editor(
            CreateEditor(email="boss@example.org", name="Twin", password="long enough pass"),
            acting,
        )
    with pytest.raises(Conflict):
        await auth_world.service.update_editor(UpdateEditor(boss.id, role="editor"), acting)
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound):
        await auth_world.service.update_editor(UpdateEditor(missing, disabled=True), acting)
    assert audited(auth_world) == []


async def add_without_password(auth_world: Any) -> StaffPasswordLinkIssuedV1:
    new = CreateEditor(email="New@Example.org", name="Nell", password=None, role="moderator")
    await auth_world.service.create_editor(new, ADMIN)
    [link] = auth_world.uow.of_type(StaffPasswordLinkIssuedV1)
    return link


async def test_an_account_added_without_a_password_gets_a_one_time_link(auth_world: Any) -> None:
    link = await add_without_password(auth_world)
    [editor] = await auth_world.service.editors()
    assert (link.subject, link.data.staff_id, link.data.email) == (
        editor.id,
        editor.id,
        "new@example.org",
    )
    assert link.data.expires_at == auth_world.clock() + timedelta(hours=48)
    # Only the token's hash is stored; nothing signs in before the owner sets a password.
    assert link.data.token not in repr(auth_world.editors.editors)
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("new@example.org", link.data.token))

    await auth_world.service.set_password(SetPassword(link.data.token, PASSWORD, "1.2.3.4"))
    pair = await auth_world.service.login(log_in("new@example.org", PASSWORD))
    assert auth_world.verifier.verify(pair.access_token).role == "moderator"
    # The link works once; the owner's own entry in the audit log says it was used.
    with pytest.raises(InvalidLink):
        await auth_world.service.set_password(SetPassword(link.data.token, "x" * 12, "1.2.3.4"))
    used = [e for e in auth_world.uow.of_type(StaffActionRecordedV1) if "link" in e.data.action]
    assert [(e.data.action, e.data.actor_id) for e in used] == [
        ("staff.password_link_used", editor.id)
    ]
    [changed] = auth_world.uow.of_type(StaffAccountChangedV1)
    assert changed.data.staff_id == editor.id  # earlier tokens end


async def test_an_expired_or_unknown_set_password_link_is_refused(auth_world: Any) -> None:
    link = await add_without_password(auth_world)
    with pytest.raises(InvalidLink):
        await auth_world.service.set_password(SetPassword("x" * 43, PASSWORD, "1.2.3.4"))
    auth_world.clock.advance(hours=48)
    with pytest.raises(InvalidLink) as expired:
        await auth_world.service.set_password(SetPassword(link.data.token, PASSWORD, "1.2.3.4"))
    assert "expired" in expired.value.detail
    with pytest.raises(Unauthenticated):
        await auth_world.service.login(log_in("new@example.org", PASSWORD))


async def test_an_expired_link_is_replaced_by_a_new_one_sent_by_an_admin(auth_world: Any) -> None:
    first = await add_without_password(auth_world)
    [editor] = await auth_world.service.editors()
    auth_world.clock.advance(hours=49)
    await auth_world.service.send_password_link(editor.id, ADMIN)
    [_, second] = auth_world.uow.of_type(StaffPasswordLinkIssuedV1)
    assert second.data.email == "new@example.org"
    assert second.data.expires_at == auth_world.clock() + timedelta(hours=48)
    # The new link replaces the old one, which stays refused.
    with pytest.raises(InvalidLink):
        await auth_world.service.set_password(SetPassword(first.data.token, PASSWORD, "1.2.3.4"))
    await auth_world.service.set_password(SetPassword(second.data.token, PASSWORD, "1.2.3.4"))
    await auth_world.service.login(log_in("new@example.org", PASSWORD))
    sent = [e for e in auth_world.uow.of_type(StaffActionRecordedV1) if "sent" in e.data.action]
    assert [(e.data.action, e.data.target) for e in sent] == [
        ("staff.password_link_sent", editor.id)
    ]


async def test_no_link_for_a_disabled_or_missing_account(auth_world: Any) -> None:
    await add_without_password(auth_world)
    [editor] = await auth_world.service.editors()
    await auth_world.service.update_editor(UpdateEditor(editor.id, disabled=True), ADMIN)
    with pytest.raises(Conflict):
        await auth_world.service.send_password_link(editor.id, ADMIN)
    with pytest.raises(NotFound):
        await auth_world.service.send_password_link("00000000-0000-4000-8000-000000000000", ADMIN)
    assert len(auth_world.uow.of_type(StaffPasswordLinkIssuedV1)) == 1


async def test_set_password_tries_are_throttled_per_client(auth_world: Any) -> None:
    for _ in range(5):  # the client's sign-in allowance in this world
        with pytest.raises(InvalidLink):
            await auth_world.service.set_password(SetPassword("x" * 43, PASSWORD, "5.6.7.8"))
    with pytest.raises(RateLimited):
        await auth_world.service.set_password(SetPassword("x" * 43, PASSWORD, "5.6.7.8"))
