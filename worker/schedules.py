"""The Temporal schedules the worker makes sure exist when it starts: the daily retention sweep
(RGPD), the indicators' closed months kept every night, the managers' daily digest, the agents'
inbox day (deadlines of the week, daily summaries), the reconciliation of the read model every
few minutes, the mail outbox every minute, the SMS outbox every minute. Created once, kept if
they already exist."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.service import RPCError

from parcours.carnet.messages import SCHEDULE_ID, RetentionSweepInput
from parcours.core.settings import Settings
from parcours.inbox.messages import SCHEDULE_ID as INBOX_SCHEDULE_ID
from parcours.inbox.messages import WORKFLOW_ID as INBOX_WORKFLOW_ID
from parcours.inbox.messages import InboxDailyInput
from parcours.indicators.messages import SCHEDULE_ID as INDICATORS_SCHEDULE_ID
from parcours.indicators.messages import WORKFLOW_ID as INDICATORS_WORKFLOW_ID
from parcours.indicators.messages import KeepClosedMonthsInput
from parcours.journey.messages import RECONCILE_SCHEDULE_ID, ReconcileInput
from parcours.mail.messages import SCHEDULE_ID as OUTBOX_SCHEDULE_ID
from parcours.mail.messages import WORKFLOW_ID as OUTBOX_WORKFLOW_ID
from parcours.mail.messages import DeliverOutboxInput
from parcours.management.messages import SCHEDULE_ID as DIGEST_SCHEDULE_ID
from parcours.management.messages import WORKFLOW_ID as DIGEST_WORKFLOW_ID
from parcours.management.messages import DailyDigestInput
from parcours.sms.messages import SCHEDULE_ID as SMS_SCHEDULE_ID
from parcours.sms.messages import WORKFLOW_ID as SMS_WORKFLOW_ID
from parcours.sms.messages import DeliverSmsInput
from workflows.carnet import RetentionSweep
from workflows.inbox import InboxDaily
from workflows.indicators import KeepClosedMonths
from workflows.journey import ReconcileJourneys
from workflows.mail import DeliverOutbox
from workflows.management import DailyDigest
from workflows.sms import DeliverSms

log = logging.getLogger(__name__)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Every schedule of the platform, created once, kept if it already exists."""
    # The daily retention sweep (RGPD), at 3:00 UTC.
    await _keep(
        client,
        SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                RetentionSweep.run,
                RetentionSweepInput(retention_months=settings.retention_months),
                id="retention-sweep",
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(3)])]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    # The indicators' closed months kept for every département, at 2:00 UTC (a month is
    # closed a day after its end: on the 2nd, last month is kept before anyone reads it).
    await _keep(
        client,
        INDICATORS_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                KeepClosedMonths.run,
                KeepClosedMonthsInput(),
                id=INDICATORS_WORKFLOW_ID,
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(2)])]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    # The managers' daily digest, every morning.
    await _keep(
        client,
        DIGEST_SCHEDULE_ID,
        Schedule(
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
        ),
    )
    # The agents' inboxes: deadlines of the coming week, daily summaries (with the digest).
    await _keep(
        client,
        INBOX_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                InboxDaily.run,
                InboxDailyInput(),
                id=INBOX_WORKFLOW_ID,
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(settings.digest_hour)])]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    # The read model made to agree with the workflows, on the journeys written lately.
    await _keep(
        client,
        RECONCILE_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                ReconcileJourneys.run,
                ReconcileInput(window_minutes=settings.reconcile_window_minutes),
                id=RECONCILE_SCHEDULE_ID,
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(
                intervals=[
                    ScheduleIntervalSpec(every=timedelta(minutes=settings.reconcile_every_minutes))
                ]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    # The mails the API did not send at once (SMTP down, a worker's mail), every minute.
    await _keep(
        client,
        OUTBOX_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                DeliverOutbox.run,
                DeliverOutboxInput(),
                id=OUTBOX_WORKFLOW_ID,
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    # The SMS due now (held for the quiet hours, provider down), every minute.
    await _keep(
        client,
        SMS_SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                DeliverSms.run,
                DeliverSmsInput(),
                id=SMS_WORKFLOW_ID,
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )


async def reconcile_now(client: Client) -> None:
    """Run the reconciliation once now (a worker that starts may follow a crash)."""
    try:
        await client.get_schedule_handle(RECONCILE_SCHEDULE_ID).trigger()
    except RPCError as error:
        log.warning("reconciliation not triggered", extra={"error": str(error)})


async def _keep(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created", extra={"schedule": schedule_id})
    except ScheduleAlreadyRunningError:
        pass
