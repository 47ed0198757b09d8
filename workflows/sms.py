"""``DeliverSms``: hands the SMS due now to the provider (those held for the quiet hours, those
whose provider was down). Started every minute by a Temporal schedule the worker keeps; the
work is in an activity that claims each SMS before the provider's call, so an SMS goes once
even when two runs overlap."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.sms.messages import (
        SEND_DUE_SMS,
        DeliverSmsInput,
        DeliverSmsResult,
        SendDueSmsInput,
        SendDueSmsResult,
    )


@workflow.defn(name="DeliverSms")
class DeliverSms:
    @workflow.run
    async def run(self, input: DeliverSmsInput) -> DeliverSmsResult:
        sent, retried, refused = 0, 0, 0
        while True:
            batch = await workflow.execute_activity(
                SEND_DUE_SMS,
                SendDueSmsInput(batch_size=input.batch_size),
                result_type=SendDueSmsResult,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=5),
                # Our own database: a few quick tries; the next run is a minute away anyway.
                # The provider's failures are not retried here: each SMS keeps its own next
                # attempt, and a retry of this activity sends only what is still due.
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=10),
                    maximum_attempts=3,
                ),
            )
            sent, retried, refused = (
                sent + batch.sent,
                retried + batch.retried,
                refused + batch.refused,
            )
            if not batch.more:
                return DeliverSmsResult(sent=sent, retried=retried, refused=refused)
