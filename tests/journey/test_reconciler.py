"""The reconciler (``JourneyReconciler``) on a real engine: it removes from the read model what
the journey never recorded, and only that — not a change the journey made while the reconciler
was asking about it.

The engine's answer can be older than the read model: the query is answered, the journey then
moves on and its activity writes the change, and only then does the reconciler read SQL. A
query slowed by a restarting worker (10 s in CI) left that window open long enough for the
reconciler, run at the worker's start, to delete a person's last four events as « never
recorded »; nothing wrote them again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    JourneyEvent,
    JourneyTimeline,
    PauseInput,
    RecordJourneyEventsInput,
    ResumeInput,
)
from parcours.journey.reconciliation import JourneyReconciler
from parcours.journey.repository import JourneyRepository
from tests.support.accounts import Staff
from tests.support.journeys import Journeys, act, ended_after
from workflows.journey import Journey


class LateAnswer(JourneyReconciler):
    """Its first answer from the engine arrives after ``meanwhile`` has run."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def _ask(self, journey_id: str) -> JourneyTimeline | None:
        timeline = await super()._ask(journey_id)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return timeline


@pytest.fixture
async def journeys(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    async with ended_after(dev_env, sessions, settings, staff) as journeys:
        yield journeys


def reconciler(journeys: Journeys) -> LateAnswer:
    return LateAnswer(journeys.sessions, journeys.env.client, journeys.settings)


async def test_a_change_made_while_the_engine_was_asked_stays_on_the_page(
    journeys: Journeys,
) -> None:
    handle = await journeys.enrol()
    person = handle.id.removeprefix("journey-")
    late = reconciler(journeys)
    # The référente pauses the journey once the engine has answered, before the reconciler
    # reads SQL: the answer does not know the pause, SQL does (the update returns once written).
    late.meanwhile = lambda: act(handle, PauseInput(actor_id=journeys.staff.referent_id))

    report = await late.reconcile([person])

    model = await journeys.matches(handle)
    assert model.journey.paused and model.kinds[-1] == "paused", model.kinds
    assert report.checked == 1 and report.differences == [], report.lines()


async def test_what_the_journey_never_recorded_is_removed(journeys: Journeys) -> None:
    sessions, settings, staff = journeys.sessions, journeys.settings, journeys.staff
    handle = await journeys.enrol()
    state = await act(handle, PauseInput(actor_id=staff.referent_id))
    person = handle.id.removeprefix("journey-")
    # A transition written to SQL that the engine never recorded (a local activity's write
    # before a crash, as journeys did before the read model waited for the engine's record).
    resumed = state.model_copy(update={"paused_at": None, "seq": state.seq + 1})
    async with transaction(sessions) as session:
        await JourneyRepository(session).project(
            RecordJourneyEventsInput(
                journey=resumed,
                first_seq=state.seq + 1,
                events=[
                    JourneyEvent(
                        kind="resumed",
                        occurred_at=state.step_since + timedelta(minutes=1),
                        actor_id=staff.referent_id,
                    )
                ],
            ),
            handoff_read_days=settings.handoff_read_days,
        )
    assert (await journeys.read(handle)).kinds[-1] == "resumed"

    # No answer held back: the engine answers, then the reconciler compares.
    report = await reconciler(journeys).reconcile([person])

    assert [str(d) for d in report.differences] == [
        f"parcours {person} : 1 événement(s) jamais enregistré(s) retiré(s) ; ligne du parcours "
        f"corrigée (paused, seq) (SQL seq {state.seq + 1} → moteur seq {state.seq})"
    ]
    model = await journeys.matches(handle, await handle.query(Journey.current))
    assert model.journey.paused and model.kinds[-1] == "paused"
    # The journey goes on from there: its next change is written after the pause.
    await act(handle, ResumeInput(actor_id=staff.referent_id))
    assert (await journeys.matches(handle)).kinds[-2:] == ["paused", "resumed"]
