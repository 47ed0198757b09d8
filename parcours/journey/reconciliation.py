"""The reconciler: the read model made to agree with what the engine recorded.

The workflow is the source of truth; the read model is its projection, written by an activity
the engine records with each transition, so it never shows what did not happen and catches up
by itself once the activity runs again. What the reconciler repairs is what that guarantee
does not cover: journeys written before it (a local activity wrote SQL before the engine
recorded the transition, so a crash in between left a transition that never happened), and
writes interrupted while a component was down (the pages may lag until the retried activity
runs). For each journey it asks the workflow (``timeline`` query) and compares:

- events in SQL beyond the workflow's last one, or different from the workflow's at the same
  number: removed, the workflow's own written in their place;
- events the workflow recorded that SQL lacks (a write still to come): written now;
- the journey row: made to say what the workflow holds.

The engine's answer can be older than SQL: the journey may move on, and its activity write the
change, between the answer and the repair. So the read model is looked at before asking, and
the repair (which holds the journey's row, making the projection wait) goes ahead only if it was
written no further meanwhile; otherwise the engine is asked again.

Run after a restart and periodically (the ``ReconcileJourneys`` workflow of the worker's
schedules, on the journeys written recently), and on demand: ``parcours reconcile``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    JOURNEY_WORKFLOW,
    JourneyState,
    JourneyTimeline,
    journey_workflow_id,
)
from parcours.journey.models import JourneyRecord
from parcours.journey.repository import JourneyRepository, WrittenSoFar, row_values

log = logging.getLogger(__name__)

# Times a journey is asked about while its read model keeps being written (it is then left to
# the next pass: its own writes are bringing it up to date).
LOOKS = 3


class _MovedOn:
    """The read model was written between the look and the repair."""


MOVED_ON = _MovedOn()


@dataclass
class Difference:
    """What the reconciler found different for one journey, and set right."""

    beneficiary_id: str
    sql_seq: int
    workflow_seq: int
    removed_events: int = 0
    written_events: int = 0
    row_fixed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        if self.removed_events:
            parts.append(f"{self.removed_events} événement(s) jamais enregistré(s) retiré(s)")
        if self.written_events:
            parts.append(f"{self.written_events} événement(s) manquant(s) écrit(s)")
        if self.row_fixed:
            parts.append("ligne du parcours corrigée (" + ", ".join(self.row_fixed) + ")")
        return (
            f"parcours {self.beneficiary_id} : {' ; '.join(parts)} "
            f"(SQL seq {self.sql_seq} → moteur seq {self.workflow_seq})"
        )


@dataclass
class ReconcileReport:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    # Journeys whose workflow could not be asked (engine down, history gone): left as they are.
    unreachable: list[str] = field(default_factory=list)
    # Journeys started whose enrolment never committed (no person): ended.
    orphans: list[str] = field(default_factory=list)
    # Journeys written to each time they were looked at: left to the next pass.
    moving: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What was found and done, in French, one line each."""
        found = [str(d) for d in self.differences]
        found += [
            f"parcours {o} : démarré sans personne enregistrée (inscription non validée), arrêté"
            for o in self.orphans
        ]
        found += [f"parcours {u} : moteur injoignable, non vérifié" for u in self.unreachable]
        found += [
            f"parcours {m} : modifié pendant la vérification, revu au prochain passage"
            for m in self.moving
        ]
        found.append(
            f"{self.checked} parcours vérifié(s), {len(self.differences)} différence(s) "
            f"corrigée(s), {len(self.orphans)} parcours orphelin(s) arrêté(s)."
        )
        return found


def row_differences(record: JourneyRecord, state: JourneyState) -> list[str]:
    """The row's columns that do not say what the workflow holds."""
    return [name for name, value in row_values(state).items() if getattr(record, name) != value]


class JourneyReconciler:
    """Compares journeys' read model with their workflow, and repairs it: one transaction per
    journey, so one that cannot be repaired now leaves the others done."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.temporal = temporal
        self.settings = settings

    async def recently_written(self, since: datetime) -> list[str]:
        async with self.sessions() as session:
            return list(await JourneyRepository(session).recently_written(since))

    async def all_journeys(self) -> list[str]:
        async with self.sessions() as session:
            return list(await JourneyRepository(session).all_ids())

    async def reconcile(self, beneficiary_ids: list[str]) -> ReconcileReport:
        report = ReconcileReport()
        for beneficiary_id in beneficiary_ids:
            for _ in range(LOOKS):
                async with self.sessions() as session:
                    looked = await JourneyRepository(session).written_so_far(beneficiary_id)
                if looked is None:
                    break  # enrolment not committed: nothing shown, nothing to repair
                timeline = await self._ask(looked.journey_id)
                if timeline is None:
                    report.unreachable.append(beneficiary_id)
                    break
                difference = await self._repair(beneficiary_id, timeline, looked)
                if difference is MOVED_ON:
                    continue  # written meanwhile: the answer is older than SQL, ask again
                report.checked += 1
                if isinstance(difference, Difference):
                    log.warning("read model repaired", extra={"difference": str(difference)})
                    report.differences.append(difference)
                break
            else:
                report.moving.append(beneficiary_id)
        return report

    async def end_orphans(self, started_after: datetime, started_before: datetime) -> list[str]:
        """Journeys started in that window whose person was never saved (the request that
        enrolled them died between the start and its commit): ended, as the enrolment would
        have undone them. Only running journeys with no read model at all."""
        query = (
            f"WorkflowType = '{JOURNEY_WORKFLOW}' AND ExecutionStatus = 'Running' "
            f"AND StartTime > '{started_after.isoformat()}' "
            f"AND StartTime < '{started_before.isoformat()}'"
        )
        ended = []
        try:
            async for execution in self.temporal.list_workflows(query):
                journey_id = execution.id.removeprefix("journey-")
                async with self.sessions() as session:
                    if await JourneyRepository(session).by_journey_id(journey_id) is not None:
                        continue
                handle = self.temporal.get_workflow_handle(execution.id)
                await handle.terminate(reason="enrolment never committed (reconciler)")
                ended.append(journey_id)
        except RPCError as error:
            log.warning("orphan journeys not looked for", extra={"error": str(error)})
        return ended

    async def _ask(self, journey_id: str) -> JourneyTimeline | None:
        handle = self.temporal.get_workflow_handle(journey_workflow_id(journey_id))
        try:
            return await handle.query("timeline", result_type=JourneyTimeline)
        except RPCError as error:
            if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                log.warning(
                    "journey not reconciled: engine unreachable",
                    extra={"journey_id": journey_id, "error": str(error)},
                )
            return None
        except Exception as error:  # a history from before the ``timeline`` query
            log.info(
                "journey not reconciled: its workflow cannot say its timeline",
                extra={"journey_id": journey_id, "error": str(error)},
            )
            return None

    async def _repair(
        self, beneficiary_id: str, timeline: JourneyTimeline, looked: WrittenSoFar
    ) -> Difference | _MovedOn | None:
        """Set the read model to what ``timeline`` says, if it was written no further since
        ``looked`` (taken before the engine was asked): an event written after the question
        may be one the answer does not know yet, and must not be taken for one the engine
        never recorded. A journey that agrees (most) is only read."""
        truth = timeline.state
        async with transaction(self.sessions) as session:
            journeys = JourneyRepository(session)
            if await self._compare(journeys, beneficiary_id, timeline) is None:
                return None
            await journeys.hold(beneficiary_id)
            if await journeys.written_so_far(beneficiary_id) != looked:
                return MOVED_ON
            session.expire_all()  # compared again as held, not as first read
            found = await self._compare(journeys, beneficiary_id, timeline)
            if found is None:
                return None
            record, difference, never_recorded = found
            if never_recorded:
                await journeys.forget_after(truth.id, min(never_recorded) - 1)
            batch = timeline.batch(after_seq=0)
            if batch is not None and difference.written_events:
                await journeys.project(
                    batch,
                    handoff_read_days=self.settings.handoff_read_days,
                    app_url=self.settings.public_app_url,
                )
                await session.refresh(record)
            difference.row_fixed = row_differences(record, truth)
            if difference.row_fixed:
                await journeys.adopt_state(truth)
            return difference

    async def _compare(
        self, journeys: JourneyRepository, beneficiary_id: str, timeline: JourneyTimeline
    ) -> tuple[JourneyRecord, Difference, list[int]] | None:
        """What differs between the read model and ``timeline``, and the events the engine
        never recorded; None when they agree, or when the row is gone or another journey's."""
        truth = timeline.state
        record = await journeys.get(beneficiary_id)
        if record is None or record.journey_id != truth.id:
            return None
        standing = {
            seq: (kind, at)
            for seq, kind, at in await journeys.events_from(truth.id, timeline.first_seq)
        }
        ours = {
            seq: (event.kind, event.occurred_at)
            for seq, event in enumerate(timeline.events, start=timeline.first_seq)
        }
        difference = Difference(
            beneficiary_id, sql_seq=max(standing, default=record.seq), workflow_seq=truth.seq
        )
        never_recorded = [
            seq
            for seq, seen in standing.items()
            if seq > truth.seq or (seq in ours and ours[seq] != seen)
        ]
        difference.removed_events = len(never_recorded)
        difference.written_events = sum(
            1 for seq in ours if seq not in standing or seq in never_recorded
        )
        difference.row_fixed = row_differences(record, truth)
        if difference.removed_events or difference.written_events or difference.row_fixed:
            return record, difference, never_recorded
        return None
