"""The read-model activity as Temporal runs it: retried, and possibly out of order.

A retried activity delivers the same event twice; a slow attempt can land after a newer one.
Neither may duplicate a line of the timeline nor move the journey back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.journey import ReadModelActivities
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import JourneyEvent, JourneyState, RecordJourneyEventInput, Step
from parcours.journey.models import JourneyEventRecord, JourneyHandover, JourneyRecord
from parcours.journey.repository import JourneyRepository

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
async def beneficiary_id(sessions: async_sessionmaker[AsyncSession]) -> str:
    person = Beneficiary(
        id=str(uuid.uuid4()),
        first_name="Camille",
        last_name="Projection",
        birth_date=date(1990, 5, 17),
        territory="73",
    )
    async with transaction(sessions) as session:
        session.add(person)
    return person.id


def numbered(beneficiary_id: str, seq: int, step: Step, kind: str) -> RecordJourneyEventInput:
    at = T0 + timedelta(days=seq)
    journey = JourneyState(
        beneficiary_id=beneficiary_id,
        territory="73",
        step=step,
        step_since=at,
        deadline=at + timedelta(days=30),
        referent_id="r-1",
        seq=seq,
    )
    return RecordJourneyEventInput(
        journey=journey,
        seq=seq,
        event=JourneyEvent(kind=kind, occurred_at=at, actor_id="r-1", detail={"n": seq}),
    )


async def record(sessions: async_sessionmaker[AsyncSession], data: RecordJourneyEventInput) -> None:
    activities = ReadModelActivities(sessions, Settings())
    await ActivityEnvironment().run(activities.record_journey_event, data)


async def read(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> tuple[JourneyRecord | None, list[JourneyEventRecord]]:
    async with sessions() as session:
        repo = JourneyRepository(session)
        record = await repo.get(beneficiary_id)
        return record, list(await repo.events(record)) if record else []


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    journey, events = await read(sessions, beneficiary_id)
    assert journey is not None
    row = {c.key: getattr(journey, c.key) for c in JourneyRecord.__table__.columns}
    lines: list[tuple[object, ...]] = [
        (e.id, e.seq, e.kind, e.step, e.occurred_at, e.detail) for e in events
    ]
    return row, lines


async def test_the_same_event_twice_is_one_line_of_the_timeline(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> None:
    started = numbered(beneficiary_id, 1, Step.INTAKE, "journey_started")
    await record(sessions, started)
    await record(sessions, started)

    journey, events = await read(sessions, beneficiary_id)
    assert journey is not None
    assert (journey.step, journey.seq, journey.deadline) == ("intake", 1, T0 + timedelta(days=31))
    assert [(e.seq, e.kind, e.detail) for e in events] == [(1, "journey_started", {"n": 1})]

    diagnosis = numbered(beneficiary_id, 2, Step.DIAGNOSIS, "diagnosis_started")
    await record(sessions, diagnosis)
    await record(sessions, diagnosis)
    journey, events = await read(sessions, beneficiary_id)
    assert journey is not None
    assert (journey.step, journey.seq) == ("diagnosis", 2)
    assert [e.kind for e in events] == ["journey_started", "diagnosis_started"]


async def test_an_older_event_arriving_late_does_not_move_the_journey_back(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> None:
    await record(sessions, numbered(beneficiary_id, 1, Step.INTAKE, "journey_started"))
    await record(sessions, numbered(beneficiary_id, 3, Step.ORIENTATION, "diagnosis_completed"))
    # The attempt for seq 2 was slow: it lands after seq 3.
    await record(sessions, numbered(beneficiary_id, 2, Step.DIAGNOSIS, "diagnosis_started"))

    journey, events = await read(sessions, beneficiary_id)
    assert journey is not None
    assert (journey.step, journey.seq, journey.step_since, journey.updated_at) == (
        "orientation",
        3,
        T0 + timedelta(days=3),
        T0 + timedelta(days=3),
    )
    # The late event still takes its place in the timeline.
    assert [(e.seq, e.kind, e.step) for e in events] == [
        (1, "journey_started", "intake"),
        (2, "diagnosis_started", "diagnosis"),
        (3, "diagnosis_completed", "orientation"),
    ]
    # The first event delivered once more changes nothing either.
    before = await snapshot(sessions, beneficiary_id)
    await record(sessions, numbered(beneficiary_id, 1, Step.INTAKE, "journey_started"))
    assert await snapshot(sessions, beneficiary_id) == before


async def handovers(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(JourneyHandover)
            .where(JourneyHandover.beneficiary_id == beneficiary_id)
            .order_by(JourneyHandover.seq)
        )
        return [
            (h.seq, h.from_territory, h.to_territory, h.from_referent_id, h.readable_until)
            for h in rows
        ]


def handed_off(
    beneficiary_id: str, seq: int, to: str, *, late_by: timedelta = timedelta()
) -> RecordJourneyEventInput:
    """The ``handed_off`` event at ``seq``, from Savoie to ``to``, ``late_by`` after the
    day ``numbered`` gives it."""
    data = numbered(beneficiary_id, seq, Step.ORIENTATION, "handed_off")
    at = data.event.occurred_at + late_by
    return RecordJourneyEventInput(
        journey=data.journey.model_copy(update={"territory": to, "referent_id": None}),
        seq=seq,
        event=data.event.model_copy(
            update={
                "occurred_at": at,
                "detail": {
                    "from_territory": "73",
                    "to_territory": to,
                    "from_referent_id": "r-1",
                    "from_structure_id": "s-1",
                },
            }
        ),
    )


async def test_a_hand_off_is_kept_once_and_follows_the_events_that_replace_it(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> None:
    await record(sessions, numbered(beneficiary_id, 1, Step.INTAKE, "journey_started"))
    moved = handed_off(beneficiary_id, 2, "74")
    await record(sessions, moved)
    await record(sessions, moved)  # a retried write
    at = moved.event.occurred_at
    read_days = Settings().handoff_read_days
    assert await handovers(sessions, beneficiary_id) == [
        (2, "73", "74", "r-1", at + timedelta(days=read_days))
    ]

    # The hand-off was a phantom: the engine recorded a pause at that number.
    truth = numbered(beneficiary_id, 2, Step.INTAKE, "paused")
    truth = truth.model_copy(
        update={"event": truth.event.model_copy(update={"occurred_at": at + timedelta(hours=1)})}
    )
    await record(sessions, truth)
    assert await handovers(sessions, beneficiary_id) == []

    # Then the engine's hand-off, elsewhere, later in the timeline.
    elsewhere = handed_off(beneficiary_id, 3, "01", late_by=timedelta(days=1))
    await record(sessions, elsewhere)
    assert await handovers(sessions, beneficiary_id) == [
        (3, "73", "01", "r-1", elsewhere.event.occurred_at + timedelta(days=read_days))
    ]
    journey, _ = await read(sessions, beneficiary_id)
    assert journey is not None and journey.territory == "01"
