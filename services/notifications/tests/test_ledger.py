"""How the ledger repository persists a transition (the updates themselves run against the
database in test_ledger_expiry.py)."""

from datetime import UTC, datetime

import pytest

from broadsheet_notifications.domain import Transition, Transitions
from broadsheet_notifications.repository.ledger import FINISHED_AT, fence, guard, move

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_guard_keeps_a_transition_to_its_source_states() -> None:
    assert guard(Transitions.CLAIM) == {"state": "pending"}
    assert guard(Transitions.SEND) == {"state": "sending"}
    both = Transition(
        "test", Transitions.CLAIM.source | Transitions.RETRY.source, Transitions.CLAIM.target
    )
    assert guard(both) == {"state": {"$in": ["failed", "pending"]}}


def test_fence_also_requires_the_workers_claim_token() -> None:
    assert fence(Transitions.SEND, "c1") == {"state": "sending", "claim": "c1"}


def test_move_sets_the_target_and_the_expiry_stamp_of_finished_rows() -> None:
    assert move(Transitions.SEND, {"sent_at": NOW}, drop=("claim",)) == {
        "$set": {"state": "sent", "sent_at": NOW},
        "$currentDate": {FINISHED_AT: True},
        "$unset": {"claim": ""},
    }
    assert move(Transitions.CANCEL) == {
        "$set": {"state": "cancelled"},
        "$currentDate": {FINISHED_AT: True},
    }


def test_move_to_a_live_state_drops_the_expiry_stamp() -> None:
    assert move(Transitions.RETRY, {"attempts": 0}) == {
        "$set": {"state": "pending", "attempts": 0},
        "$unset": {FINISHED_AT: ""},
    }
    assert move(Transitions.CLAIM, inc={"attempts": 1})["$inc"] == {"attempts": 1}
