"""The retention sweep (RGPD) on the time-skipping server: people whose journey closed longer
ago than ``retention_months`` are anonymised; a journey closed more recently, or still open
however old, is left alone; running the sweep again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.access.models import AccessLogEntry
from parcours.carnet.messages import RetentionSweepInput, RetentionSweepResult
from parcours.carnet.models import Beneficiary, Note, SituationFact
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import CloseInput, ExitReason
from parcours.journey.models import JourneyRecord
from parcours.journey.rules import add_months
from tests.support.accounts import Staff
from tests.support.journeys import JourneyHandle, Journeys, act
from tests.support.privacy import searchable
from worker.assembly import build_worker
from workflows.carnet import RetentionSweep


@pytest.fixture
async def retention(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    """Journeys and the sweep on a task queue of their own, served by the worker as
    ``parcours worker`` builds it (the retention activity included)."""
    own = settings.model_copy(update={"task_queue": f"retention-{uuid.uuid4().hex[:8]}"})
    async with build_worker(time_env.client, sessions, own.task_queue, own):
        journeys = Journeys(time_env, sessions, own, staff)
        try:
            yield journeys
        finally:
            await journeys.terminate_open()


def person_id(handle: JourneyHandle) -> str:
    return handle.id.removeprefix("journey-")


async def closed(journeys: Journeys) -> str:
    handle = await journeys.enrol()
    await act(handle, CloseInput(exit_reason=ExitReason.DECLINED))
    assert (await handle.result()).exit_reason is ExitReason.DECLINED
    await journeys.matches(handle)  # the read model says closed too
    return person_id(handle)


async def with_carnet(sessions: async_sessionmaker[AsyncSession], beneficiary_id: str) -> None:
    async with transaction(sessions) as session:
        session.add_all(
            [
                Note(beneficiary_id=beneficiary_id, body=f"Note sur {beneficiary_id}"),
                SituationFact(
                    beneficiary_id=beneficiary_id,
                    theme="housing",
                    label="Hébergement",
                    value="Chez un tiers",
                    source="professional",
                ),
            ]
        )


async def step_since(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str, when: datetime
) -> None:
    """Move the journey's current step back in time, in the read model.

    The sweep reads the read model only: a closed journey's ``step_since`` is the day it
    closed, and the activity compares it with the real clock, as the daily production run
    does. The time-skipping server only moves its own clock forward, so a journey that closed
    years ago is made by writing that date where the sweep reads it.
    """
    async with transaction(sessions) as session:
        await session.execute(
            update(JourneyRecord)
            .where(JourneyRecord.beneficiary_id == beneficiary_id)
            .values(step_since=when)
        )


async def snapshot(sessions: async_sessionmaker[AsyncSession], beneficiary_id: str) -> Any:
    """The person's row, what is left of their carnet, and their erasures in the access log."""
    async with sessions() as session:
        person = await session.get(Beneficiary, beneficiary_id)
        assert person is not None
        row = {c.key: getattr(person, c.key) for c in Beneficiary.__table__.columns}
        carnet = [
            await session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.beneficiary_id == beneficiary_id)
            )
            for table in (Note, SituationFact)
        ]
        erasures = (
            await session.execute(
                select(AccessLogEntry.user_id, AccessLogEntry.at).where(
                    AccessLogEntry.beneficiary_id == beneficiary_id,
                    AccessLogEntry.what == "carnet.erasure",
                )
            )
        ).all()
    return row, carnet, erasures


async def sweep(journeys: Journeys, months: int) -> RetentionSweepResult:
    handle = await journeys.env.client.start_workflow(
        RetentionSweep.run,
        # One person per batch: the sweep's loop over batches runs too.
        RetentionSweepInput(retention_months=months, batch_size=1),
        id=f"retention-sweep-{uuid.uuid4().hex[:8]}",
        task_queue=journeys.settings.task_queue,
    )
    result = await handle.result()
    # Its history holds counts, never who was anonymised.
    assert "first_name" not in searchable(await handle.fetch_history())
    return result


async def test_the_sweep_anonymises_journeys_closed_before_the_retention_period(
    retention: Journeys, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    months = settings.retention_months
    now = datetime.now(UTC)
    expired = [await closed(retention), await closed(retention)]
    recent = await closed(retention)
    still_open = person_id(await retention.enrol())
    for beneficiary_id in [*expired, recent, still_open]:
        await with_carnet(sessions, beneficiary_id)
    for beneficiary_id in expired:
        await step_since(sessions, beneficiary_id, add_months(now, -months) - timedelta(days=1))
    await step_since(sessions, recent, add_months(now, -months) + timedelta(days=1))
    # Open, and in the same step for years (a long pause): still followed, kept.
    await step_since(sessions, still_open, add_months(now, -3 * months))
    kept_before = {b: await snapshot(sessions, b) for b in (recent, still_open)}

    first = await sweep(retention, months)

    assert first.anonymised == 2
    for beneficiary_id in expired:
        person, carnet, erasures = await snapshot(sessions, beneficiary_id)
        assert (person["first_name"], person["last_name"]) == ("Personne", "effacée")
        assert person["nir"] is person["email"] is person["address"] is person["phone"] is None
        assert person["anonymised_at"] is not None
        assert carnet == [0, 0]
        assert [user for user, _ in erasures] == [None]  # done by the platform, logged once
    for beneficiary_id, before in kept_before.items():
        assert await snapshot(sessions, beneficiary_id) == before
        person, carnet, _ = before
        assert person["first_name"].startswith("Prenomtest") and carnet == [1, 1]

    # Again: nothing left to do, and nothing changes.
    after_first = {b: await snapshot(sessions, b) for b in [*expired, recent, still_open]}
    second = await sweep(retention, months)

    assert second.anonymised == 0
    for beneficiary_id, before in after_first.items():
        assert await snapshot(sessions, beneficiary_id) == before
