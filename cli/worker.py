"""The Temporal worker: journeys' workflows and the activities, with their dependencies."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.carnet import RetentionActivities
from activities.journey import ReadModelActivities
from activities.management import DigestActivities
from cli.partner_worker import PARTNER_WORKFLOWS, PartnerWorkerParts
from parcours.carnet.messages import SCHEDULE_ID, RetentionSweepInput
from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.settings import Settings, get_settings
from parcours.core.temporal import connect
from parcours.management.messages import SCHEDULE_ID as DIGEST_SCHEDULE_ID
from parcours.management.messages import WORKFLOW_ID as DIGEST_WORKFLOW_ID
from parcours.management.messages import DailyDigestInput
from workflows.carnet import RetentionSweep
from workflows.journey import Journey
from workflows.management import DailyDigest

log = logging.getLogger(__name__)

WORKFLOWS = [Journey, RetentionSweep, DailyDigest, *PARTNER_WORKFLOWS]


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    settings: Settings | None = None,
    partners: PartnerWorkerParts | None = None,
) -> Worker:
    settings = settings or get_settings()
    read_model = ReadModelActivities(sessions)
    retention = RetentionActivities(sessions, client, settings)
    digest = DigestActivities(sessions, settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            retention.anonymise_expired,
            digest.compose_digests,
            digest.send_digests,
            *(partners.activities if partners else []),
        ],
        max_concurrent_activities=50,
        unsandboxed_workflow_runner=journey_runner(settings),
        # Activities in flight get this long to finish when the worker is asked to stop.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


def journey_runner(settings: Settings) -> WorkflowRunner:
    """How workflows declared ``sandboxed=False`` (the Journey) run: as they are, or in the
    sandbox when the settings ask (the tests)."""
    if settings.workflow_sandbox_everywhere:
        return SandboxedWorkflowRunner()
    return UnsandboxedWorkflowRunner()


async def run_worker(settings: Settings) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )
    client = await connect(settings, runtime)
    # SQLite takes one writer at a time: the activities queue for one connection here, in
    # order, rather than in SQLite's busy handler, which sleeps between retries.
    engine = create_engine(settings.database_url, pool_size=1 if settings.is_sqlite else None)
    sessions = create_sessionmaker(engine)
    partners = PartnerWorkerParts.build(client, sessions, settings)
    worker = build_worker(client, sessions, settings.task_queue, settings, partners=partners)
    await ensure_schedules(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        extra={"task_queue": settings.task_queue, "metrics": settings.worker_metrics_address},
    )
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing tasks in flight")
    await partners.aclose()
    await engine.dispose()


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """The daily retention sweep (RGPD): created once, kept if it already exists."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweep.run,
            RetentionSweepInput(retention_months=settings.retention_months),
            id="retention-sweep",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(3)])]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("schedule created", extra={"schedule": SCHEDULE_ID})
    except ScheduleAlreadyRunningError:
        pass
    # The managers' daily digest, every morning.
    digest = Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigest.run,
            DailyDigestInput(),
            id=DIGEST_WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(settings.digest_hour)])]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(DIGEST_SCHEDULE_ID, digest)
        log.info("schedule created", extra={"schedule": DIGEST_SCHEDULE_ID})
    except ScheduleAlreadyRunningError:
        pass
