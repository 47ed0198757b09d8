"""The Temporal schedules the worker makes sure exist when it starts: the daily retention sweep
(RGPD) and the managers' daily digest. Created once, kept if they already exist."""

from __future__ import annotations

import logging

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

from parcours.carnet.messages import SCHEDULE_ID, RetentionSweepInput
from parcours.core.settings import Settings
from parcours.management.messages import SCHEDULE_ID as DIGEST_SCHEDULE_ID
from parcours.management.messages import WORKFLOW_ID as DIGEST_WORKFLOW_ID
from parcours.management.messages import DailyDigestInput
from workflows.carnet import RetentionSweep
from workflows.management import DailyDigest

log = logging.getLogger(__name__)


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
