"""``DeliverOutbox``: sends the mails left in the outbox (the SMTP server was down, an activity
enqueued them, the API stopped before sending), and deletes old sent ones. Started every
minute by a Temporal schedule the worker keeps; the work is in an activity that claims each
mail before sending it, so a mail goes once even when the API sends at the same moment."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.mail.messages import (
        SEND_OUTBOX,
        DeliverOutboxInput,
        DeliverOutboxResult,
        SendOutboxInput,
        SendOutboxResult,
    )


@workflow.defn(name="DeliverOutbox")
class DeliverOutbox:
    @workflow.run
    async def run(self, input: DeliverOutboxInput) -> DeliverOutboxResult:
        sent, failed = 0, 0
        while True:
            batch = await workflow.execute_activity(
                SEND_OUTBOX,
                SendOutboxInput(batch_size=input.batch_size),
                result_type=SendOutboxResult,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=5),
                # Our own database: a few quick tries; the next run is a minute away anyway.
                # SMTP failures are not retried here: each mail keeps its own next attempt.
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=10),
                    maximum_attempts=3,
                ),
            )
            sent, failed = sent + batch.sent, failed + batch.failed
            if not batch.more:
                return DeliverOutboxResult(sent=sent, failed=failed)
