"""The Temporal schedules the worker makes sure exist when it starts: the daily retention sweep
(RGPD), the indicators' closed months kept every night, the managers' daily digest, the agents'
inbox day (deadlines of the week, daily summaries), the reconciliation of the read model every
few minutes, the mail outbox every minute, the SMS outbox every minute. Created once, kept if
they already exist."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

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
    queue = settings.task_queue
    # The daily retention sweep (RGPD), at 3:00 UTC.
    retention = RetentionSweepInput(retention_months=settings.retention_months)
    await _keep(
        client, SCHEDULE_ID, RetentionSweep.run, retention, "retention-sweep", queue, _daily(3)
    )
    # The indicators' closed months kept for every département, at 2:00 UTC (a month is
    # closed a day after its end: on the 2nd, last month is kept before anyone reads it).
    await _keep(
        client,
        INDICATORS_SCHEDULE_ID,
        KeepClosedMonths.run,
        KeepClosedMonthsInput(),
        INDICATORS_WORKFLOW_ID,
        queue,
        _daily(2),
    )
    # The managers' daily digest, every morning.
    await _keep(
        client,
        DIGEST_SCHEDULE_ID,
        DailyDigest.run,
        DailyDigestInput(),
        DIGEST_WORKFLOW_ID,
        queue,
        _daily(settings.digest_hour),
    )
    # The agents' inboxes: deadlines of the coming week, daily summaries (with the digest).
    await _keep(
        client,
        INBOX_SCHEDULE_ID,
        InboxDaily.run,
        InboxDailyInput(),
        INBOX_WORKFLOW_ID,
        queue,
        _daily(settings.digest_hour),
    )
    # The read model made to agree with the workflows, on the journeys written lately.
    await _keep(
        client,
        RECONCILE_SCHEDULE_ID,
        ReconcileJourneys.run,
        ReconcileInput(window_minutes=settings.reconcile_window_minutes),
        RECONCILE_SCHEDULE_ID,
        queue,
        _every(timedelta(minutes=settings.reconcile_every_minutes)),
    )
    # The mails the API did not send at once (SMTP down, a worker's mail), every minute.
    await _keep(
        client,
        OUTBOX_SCHEDULE_ID,
        DeliverOutbox.run,
        DeliverOutboxInput(),
        OUTBOX_WORKFLOW_ID,
        queue,
        _every(timedelta(minutes=1)),
    )
    # The SMS due now (held for the quiet hours, provider down), every minute.
    await _keep(
        client,
        SMS_SCHEDULE_ID,
        DeliverSms.run,
        DeliverSmsInput(),
        SMS_WORKFLOW_ID,
        queue,
        _every(timedelta(minutes=1)),
    )


def _daily(hour: int) -> ScheduleSpec:
    """Every day at ``hour`` o'clock UTC."""
    return ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)])])


def _every(interval: timedelta) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)])


async def reconcile_now(client: Client) -> None:
    """Run the reconciliation once now (a worker that starts may follow a crash)."""
    try:
        await client.get_schedule_handle(RECONCILE_SCHEDULE_ID).trigger()
    except RPCError as error:
        log.warning("reconciliation not triggered", extra={"error": str(error)})


async def _keep(
    client: Client,
    schedule_id: str,
    run: Callable[[Any, Any], Awaitable[Any]],
    arg: Any,
    workflow_id: str,
    task_queue: str,
    spec: ScheduleSpec,
) -> None:
    """The schedule that starts ``run(arg)`` as ``workflow_id`` by ``spec``, a run skipped
    while the previous one still goes on: created unless it exists."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(run, arg, id=workflow_id, task_queue=task_queue),
        spec=spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created", extra={"schedule": schedule_id})
    except ScheduleAlreadyRunningError:
        pass
