"""A person can come back (``onboarding``): their RSA closes, their journey with it; when the
CAF opens their rights again, a new journey starts — its own workflow, its own events — and
the earlier one stays readable in the carnet's history."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus

from cli.caf_import import run_import
from parcours.access.rules import Principal, Role
from parcours.carnet.models import Beneficiary
from parcours.carnet.service import CarnetService
from parcours.journey.messages import ExitReason, Step, journey_workflow_id
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from simulators.caf_feed import EventKind, RightsState, RsaEvent, events_to_csv, generate_events
from tests.support.accounts import Staff
from tests.support.caf_feed import TODAY, fresh_seed
from tests.support.partners import PartnerStack
from tests.support.platform import until

pytestmark = pytest.mark.onboarding


async def imported(partners: PartnerStack, tmp_path: Path, name: str, event: RsaEvent) -> str:
    path = tmp_path / f"{name}.csv"
    path.write_text(events_to_csv([event]), encoding="utf-8")
    out, progress = io.StringIO(), io.StringIO()
    code = await run_import(partners.settings, path, out=out, progress_to=progress, poll_s=0.2)
    assert code == 0, progress.getvalue()
    return out.getvalue()


async def journey_of(
    sessions: async_sessionmaker[AsyncSession], caf_number: str
) -> JourneyRecord | None:
    """The current journey of the person with this CAF number."""
    async with sessions() as session:
        person = await session.scalar(
            select(Beneficiary).where(Beneficiary.caf_number == caf_number)
        )
        return await session.get(JourneyRecord, person.id) if person else None


async def test_rights_opened_again_after_a_closure_start_a_second_journey_both_readable(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    staff: Staff,
    tmp_path: Path,
) -> None:
    opening = generate_events(1, seed=fresh_seed(), today=TODAY)[0]
    opening = RsaEvent.model_validate(
        {**opening.model_dump(), "kind": EventKind.NEW_RIGHTS, "rights_state": RightsState.OPEN}
    )
    await imported(partners, tmp_path, "opening", opening)
    first = await until(lambda: journey_of(sessions, opening.caf_number))
    person_id = first.beneficiary_id
    assert first.journey_id == person_id  # a person's first journey has their id

    closure = RsaEvent.model_validate(
        {
            **opening.model_dump(),
            "event_id": f"{opening.event_id}-closure",
            "kind": EventKind.CLOSURE,
            "rights_state": RightsState.CLOSED,
        }
    )
    await imported(partners, tmp_path, "closure", closure)

    async def closed() -> JourneyRecord | None:
        journey = await journey_of(sessions, opening.caf_number)
        return journey if journey is not None and journey.step == Step.CLOSED else None

    ended = await until(closed)
    assert ended.exit_reason == ExitReason.RIGHTS_CLOSED

    again = RsaEvent.model_validate(
        {
            **opening.model_dump(),
            "event_id": f"{opening.event_id}-again",
            "kind": EventKind.NEW_RIGHTS,
            "rights_state": RightsState.OPEN,
            "occurred_on": TODAY,
            "rights_opened_on": TODAY,
        }
    )
    out = await imported(partners, tmp_path, "again", again)
    assert "1 personne inscrite" in out, out

    async def second_journey() -> JourneyRecord | None:
        journey = await journey_of(sessions, opening.caf_number)
        return journey if journey is not None and journey.journey_id != person_id else None

    current = await until(second_journey)
    assert current.beneficiary_id == person_id
    assert (current.step, current.seq) == (Step.INTAKE, 1)

    # Two workflows: the first ended with the rights, the second runs.
    old = await partners.client.get_workflow_handle(journey_workflow_id(person_id)).describe()
    new = await partners.client.get_workflow_handle(
        journey_workflow_id(current.journey_id)
    ).describe()
    assert (old.status, new.status) == (
        WorkflowExecutionStatus.COMPLETED,
        WorkflowExecutionStatus.RUNNING,
    )

    # The carnet shows the current journey, and the earlier one in its history.
    async with sessions() as session:
        manager = Principal(
            id=staff.manager_id, role=Role.MANAGER, full_name="Responsable", territory="73"
        )
        carnet = await CarnetService(session, partners.client, partners.settings, manager).read(
            person_id
        )
    assert carnet.journey.journey_id == current.journey_id
    earlier = [e.label for e in carnet.timeline if e.origin == "earlier_journey"]
    assert "Entrée dans le parcours (parcours précédent)" in earlier
    assert "Parcours clôturé (parcours précédent)" in earlier
    now = [e.label for e in carnet.timeline if e.origin == "journey"]
    assert now == ["Entrée dans le parcours"]

    # Importing the same re-opening again changes nothing: still two journeys.
    await imported(partners, tmp_path, "again-twice", again)
    still = await journey_of(sessions, opening.caf_number)
    assert still is not None and still.journey_id == current.journey_id
    async with sessions() as session:
        journeys = set(
            await session.scalars(
                select(JourneyEventRecord.journey_id).where(
                    JourneyEventRecord.beneficiary_id == person_id
                )
            )
        )
    assert journeys == {person_id, current.journey_id}
