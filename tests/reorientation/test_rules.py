"""The reorientation and social review rules as a référent meets them, without a server:
when the review falls due, what a hand-off does to it, how the journey's page reads it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from parcours.journey import rules
from parcours.journey.messages import (
    DecideOrientationInput,
    DecideReorientationInput,
    HandOffInput,
    JourneyEvent,
    JourneyState,
    OrientationKind,
    RequestReorientationInput,
    Sla,
    Step,
)
from parcours.reorientation.rules import open_requests, social_review_from

pytestmark = pytest.mark.law

SLA = Sla()
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


def in_orientation() -> JourneyState:
    return JourneyState(
        beneficiary_id="b",
        territory="73",
        step=Step.ORIENTATION,
        step_since=NOW - timedelta(days=3),
    )


def orient(kind: OrientationKind, reason: str | None = None, sla: Sla = SLA) -> JourneyState:
    state, _ = rules.apply(
        in_orientation(),
        DecideOrientationInput(kind=kind, structure_id="s1", social_review_reason=reason),
        NOW,
        sla,
    )
    return state


def test_the_social_track_wakes_the_journey_15_days_before_its_review() -> None:
    state = orient(OrientationKind.SOCIAL)
    assert state.social_review_due_on == date(2025, 9, 10)
    notice = datetime(2025, 8, 26, tzinfo=UTC)
    # The contract's deadline comes first; once signed, the review's notice is the next wake.
    assert rules.social_review_notice_at(state, SLA) == notice
    signed = state.model_copy(update={"deadline": None})
    assert rules.next_wake(signed, SLA) == notice
    before, events = rules.on_time(signed, notice - timedelta(minutes=1), SLA)
    assert events == [] and not before.social_review_noticed
    after, events = rules.on_time(signed, notice, SLA)
    assert [(e.kind, e.detail) for e in events] == [
        ("social_review_due", {"due_on": "2025-09-10", "extended": False})
    ]
    assert after.social_review_noticed
    assert rules.next_wake(after, SLA) is None


def test_a_recorded_reason_pushes_the_review_to_12_months_other_tracks_have_none() -> None:
    assert orient(OrientationKind.SOCIAL, "disability").social_review_due_on == date(2026, 3, 10)
    assert orient(OrientationKind.PROFESSIONAL).social_review_due_on is None
    # Orientations decided before the review existed (the workflow's patch): none either.
    old = orient(OrientationKind.SOCIAL, sla=SLA.model_copy(update={"social_review_months": 0}))
    assert old.social_review_due_on is None


def test_a_hand_off_drops_the_review_and_the_pending_request() -> None:
    state = orient(OrientationKind.SOCIAL)
    asked, _ = rules.apply(
        state,
        RequestReorientationInput(request_id="r", requested_by_role="person", reason_code="other"),
        NOW,
        SLA,
    )
    moved, _ = rules.apply(asked, HandOffInput(territory="74"), NOW, SLA)
    assert (moved.social_review_due_on, moved.reorientation_request_id) == (None, None)
    with pytest.raises(rules.TransitionRefused, match="Aucune demande de réorientation"):
        rules.check(moved, DecideReorientationInput(request_id="r", accepted=False))


def test_the_page_reads_the_next_review_and_the_requests_waiting_from_the_timeline() -> None:
    def event(kind: str, **detail: str | bool | None) -> JourneyEvent:
        return JourneyEvent(kind=kind, occurred_at=NOW, detail=detail)

    timeline = [
        event("orientation_decided", orientation="social", social_review_due_on="2025-09-10"),
        event("reorientation_requested", request_id="r1"),
        event("reorientation_refused", request_id="r1"),
        event("social_review_due", due_on="2025-09-10", extended=False),
        event("social_review_concluded", next_due_on="2026-09-10", extended=True),
        event("reorientation_requested", request_id="r2"),
    ]
    review = social_review_from(timeline)
    assert review is not None
    assert (review.due_on, review.extended, review.open) == (date(2026, 9, 10), True, False)
    due_now = social_review_from(timeline[:4])
    assert due_now is not None and due_now.open
    assert open_requests(timeline) == {"r2"}
    assert open_requests([*timeline, event("closed")]) == set()
    assert social_review_from([*timeline, event("handed_off")]) is None
