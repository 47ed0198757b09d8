"""The journeys' activities: write their SQL read model (what pages and dashboards read),
reconcile it with the workflows, and settle what a closed journey leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeating
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    RECONCILE_JOURNEYS,
    RECORD_JOURNEY_EVENT,
    RECORD_JOURNEY_EVENTS,
    SETTLE_REQUESTS,
    ReconcileInput,
    ReconcileResult,
    RecordJourneyEventInput,
    RecordJourneyEventsInput,
    SettleRequestsInput,
    SettleRequestsResult,
)
from parcours.journey.reconciliation import JourneyReconciler
from parcours.journey.repository import JourneyRepository
from parcours.journey.settlement import JourneySettlement


class ReadModelActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.handoff_read_days = settings.handoff_read_days
        self.app_url = settings.public_app_url

    @activity.defn(name=RECORD_JOURNEY_EVENT)
    async def record_journey_event(self, data: RecordJourneyEventInput) -> None:
        """Idempotent: the event is keyed by (journey, seq) and the row only moves forward."""
        async with transaction(self.sessions) as session:
            await JourneyRepository(session).project(
                RecordJourneyEventsInput(
                    journey=data.journey, first_seq=data.seq, events=[data.event]
                ),
                handoff_read_days=self.handoff_read_days,
                app_url=self.app_url,
            )

    @activity.defn(name=RECORD_JOURNEY_EVENTS)
    async def record_journey_events(self, data: RecordJourneyEventsInput) -> None:
        """A transition's events in one transaction; idempotent like the single-event one, and
        the workflow's truth replaces any event it did not record (``JourneyRepository``)."""
        async with transaction(self.sessions) as session:
            await JourneyRepository(session).project(
                data, handoff_read_days=self.handoff_read_days, app_url=self.app_url
            )


class JourneyReconcileActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
    ) -> None:
        self.reconciler = JourneyReconciler(sessions, client, settings)

    @activity.defn(name=RECONCILE_JOURNEYS)
    async def reconcile_journeys(self, data: ReconcileInput) -> ReconcileResult:
        """The journeys written in the window, compared with their workflow and repaired;
        then the journeys whose enrolment never committed, ended."""
        now = datetime.now(UTC)
        async with heartbeating(10):
            recent = await self.reconciler.recently_written(
                now - timedelta(minutes=data.window_minutes)
            )
            report = await self.reconciler.reconcile(recent)
            report.orphans = await self.reconciler.end_orphans(
                started_after=now - timedelta(hours=data.orphan_hours),
                started_before=now - timedelta(minutes=data.orphan_grace_minutes),
            )
        return ReconcileResult(
            checked=report.checked,
            fixed=len(report.differences),
            unreachable=len(report.unreachable),
            orphans=len(report.orphans),
        )


class JourneySettlementActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self.settlement = JourneySettlement(sessions, client)

    @activity.defn(name=SETTLE_REQUESTS)
    async def settle_journey_requests(self, data: SettleRequestsInput) -> SettleRequestsResult:
        """The closed journey's waiting training requests and orientations, each signalled
        ``withdraw`` (idempotent: a child withdraws once, an ended one is skipped)."""
        return await self.settlement.settle(data)
