"""Reorientation and the social track's review, driven on the time-skipping server: the
journey's updates, their refusals (nothing written), the review's timer at 6 and 12 months,
and what lands in the référents' « À traiter »."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.inbox.models import InboxItem
from parcours.journey.messages import (
    ConcludeSocialReviewInput,
    DecideOrientationInput,
    DecideReorientationInput,
    JourneyState,
    OrientationKind,
    RequestReorientationInput,
    Step,
)
from parcours.journey.rules import add_months
from tests.journey.test_workflow import assert_refused, reach
from tests.support.journeys import JourneyHandle, Journeys, act, eventually
from workflows.journey import Journey

pytestmark = pytest.mark.law


async def items(
    sessions: async_sessionmaker[AsyncSession], handle: JourneyHandle, kind: str
) -> set[str]:
    """Who has an item of ``kind`` about this journey in « À traiter »."""
    journey_id = handle.id.removeprefix("journey-")
    async with sessions() as session:
        rows = await session.scalars(
            select(InboxItem).where(InboxItem.journey_id == journey_id, InboxItem.kind == kind)
        )
        return {r.recipient_id for r in rows}


async def ask(journeys: Journeys, handle: JourneyHandle, request_id: str = "r1") -> JourneyState:
    return await act(
        handle,
        RequestReorientationInput(
            request_id=request_id,
            requested_by_role="referent",
            reason_code="social_difficulties",
            actor_id=journeys.staff.other_referent_id,
        ),
    )


async def test_reorientation_accepted_restarts_accompaniment_with_a_new_contract_deadline(
    journeys: Journeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    staff = journeys.staff
    handle = await reach(journeys, "accompaniment")
    asked = await ask(journeys, handle)
    assert asked.reorientation_request_id == "r1"
    await journeys.matches(handle)
    # The orientation team is asked.
    assert staff.orientation_id in await items(sessions, handle, "reorientation_requested")

    later = await journeys.now() + timedelta(days=20)
    await journeys.advance(later)
    decided = await act(
        handle,
        DecideReorientationInput(
            request_id="r1",
            accepted=True,
            kind=OrientationKind.SOCIAL,
            structure_id=staff.outsider_structure_id,
            referent_id=staff.referent_id,
            after_team_meeting=True,
            actor_id=staff.orientation_id,
        ),
    )
    assert decided.step is Step.ACCOMPANIMENT
    assert (decided.orientation, decided.structure_id, decided.referent_id) == (
        OrientationKind.SOCIAL,
        staff.outsider_structure_id,
        staff.referent_id,
    )
    assert decided.reorientation_request_id is None
    # A new contract deadline of one month runs from the decision.
    assert decided.step_since >= later
    assert decided.deadline == decided.step_since + timedelta(days=30)
    # The social track is reviewed 6 months after.
    assert decided.social_review_due_on == add_months(decided.step_since, 6).date()
    model = await journeys.matches(handle)
    accepted = model.events[-1]
    assert accepted.kind == "reorientation_accepted"
    assert accepted.detail["after_team_meeting"] is True
    assert accepted.detail["orientation"] == "social"
    # Both référents are told; the team's item is settled.
    told = await items(sessions, handle, "reorientation_decided")
    assert told == {staff.referent_id, staff.other_referent_id}


async def test_reorientation_refused_keeps_the_journey_and_the_same_track_is_refused(
    journeys: Journeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    staff = journeys.staff
    handle = await reach(journeys, "accompaniment")
    # Nothing to decide before a request.
    await assert_refused(
        journeys,
        handle,
        DecideReorientationInput(request_id="r1", accepted=False, refusal_code="too_early"),
        "Aucune demande de réorientation n'attend de décision sur ce parcours.",
    )
    await ask(journeys, handle)
    await assert_refused(
        journeys,
        handle,
        RequestReorientationInput(request_id="r2", requested_by_role="person", reason_code="other"),
        "Une demande de réorientation attend déjà la décision de l'équipe d'orientation.",
    )
    # The same track and structure: refused with the rule, nothing written.
    await assert_refused(
        journeys,
        handle,
        DecideReorientationInput(
            request_id="r1",
            accepted=True,
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=staff.structure_id,
            referent_id=staff.referent_id,
        ),
        "Réorientation refusée : le parcours est déjà orienté « socio-professionnelle » vers "
        "cette structure. Une réorientation change l'orientation ou la structure (pour changer "
        "seulement de référent, réattribuez le parcours).",
    )
    await assert_refused(
        journeys,
        handle,
        DecideReorientationInput(request_id="r1", accepted=False),
        "Un refus de réorientation se motive : indiquez le motif du refus.",
    )
    before = await handle.query(Journey.current)
    refused = await act(
        handle,
        DecideReorientationInput(
            request_id="r1",
            accepted=False,
            refusal_code="current_suits",
            actor_id=staff.orientation_id,
        ),
    )
    assert refused.reorientation_request_id is None
    assert (refused.step, refused.orientation, refused.structure_id, refused.deadline) == (
        before.step,
        before.orientation,
        before.structure_id,
        before.deadline,
    )
    model = await journeys.matches(handle)
    assert model.events[-1].kind == "reorientation_refused"
    assert model.events[-1].detail["reason_code"] == "current_suits"
    assert await items(sessions, handle, "reorientation_decided") == {staff.other_referent_id}


async def orient_social(journeys: Journeys, reason: str | None = None) -> JourneyHandle:
    staff = journeys.staff
    handle = await reach(journeys, "orientation")
    await act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIAL,
            structure_id=staff.structure_id,
            referent_id=staff.referent_id,
            social_review_reason=reason,
            actor_id=staff.orientation_id,
        ),
    )
    return handle


async def test_social_review_due_at_six_months_in_the_referents_inbox_ahead(
    journeys: Journeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    staff = journeys.staff
    handle = await orient_social(journeys)
    state = await handle.query(Journey.current)
    due = add_months(state.step_since, 6).date()
    assert state.social_review_due_on == due
    await assert_refused(
        journeys,
        handle,
        ConcludeSocialReviewInput(decision="keep"),
        "La revue du parcours social n'est pas encore ouverte : elle est prévue pour le "
        f"{due.strftime('%d/%m/%Y')}.",
    )
    # 15 days ahead, the référent is told.
    notice = state.step_since.replace(hour=0, minute=0, second=0, microsecond=0)
    notice = add_months(notice, 6) - timedelta(days=15)
    await journeys.advance(notice + timedelta(hours=1))
    state = await eventually(handle, lambda s: s.social_review_noticed)
    model = await journeys.matches(handle)
    due_event = next(e for e in model.events if e.kind == "social_review_due")
    assert due_event.detail == {"due_on": due.isoformat(), "extended": False}
    assert due_event.actor_id is None
    assert await items(sessions, handle, "social_review_due") == {staff.referent_id}

    kept = await act(handle, ConcludeSocialReviewInput(decision="keep", actor_id=staff.referent_id))
    now = await journeys.now()
    assert kept.social_review_due_on == add_months(now, 6).date()
    assert not kept.social_review_noticed
    model = await journeys.matches(handle)
    concluded = model.events[-1]
    assert concluded.kind == "social_review_concluded"
    assert concluded.detail["decision"] == "keep"
    assert concluded.detail["on_time"] is True


async def test_social_review_at_twelve_months_with_a_reason_then_reorient(
    journeys: Journeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    staff = journeys.staff
    handle = await orient_social(journeys, reason="health")
    state = await handle.query(Journey.current)
    due = add_months(state.step_since, 12).date()
    assert (state.social_review_due_on, state.social_review_extended) == (due, True)
    # Nothing at 6 months.
    await journeys.advance(add_months(state.step_since, 6) + timedelta(days=1))
    assert not (await handle.query(Journey.current)).social_review_noticed
    assert "social_review_due" not in (await journeys.matches(handle)).kinds
    # 15 days before 12 months.
    await journeys.advance(add_months(state.step_since, 12) - timedelta(days=14))
    state = await eventually(handle, lambda s: s.social_review_noticed)
    model = await journeys.matches(handle)
    due_event = next(e for e in model.events if e.kind == "social_review_due")
    assert due_event.detail == {"due_on": due.isoformat(), "extended": True}

    concluded = await act(
        handle,
        ConcludeSocialReviewInput(decision="reorient", request_id="r9", actor_id=staff.referent_id),
    )
    assert concluded.reorientation_request_id == "r9"
    model = await journeys.matches(handle)
    assert model.kinds[-2:] == ["social_review_concluded", "reorientation_requested"]
    assert model.events[-1].detail["reason_code"] == "social_review"
    assert staff.orientation_id in await items(sessions, handle, "reorientation_requested")
    # The review's item is settled by its conclusion.
    async with sessions() as session:
        open_items = await session.scalars(
            select(InboxItem).where(
                InboxItem.journey_id == handle.id.removeprefix("journey-"),
                InboxItem.kind == "social_review_due",
                InboxItem.settled_at.is_(None),
            )
        )
        assert open_items.all() == []
