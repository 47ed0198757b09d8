"""``DailyDigest``: each morning, a digest for every manager and every structure's
administrator (people waiting for a référent, journeys newly stalled), written to the
``digests`` outbox, then e-mailed when SMTP is configured. Started by a Temporal schedule the
worker creates; the work is in two activities, each safe to retry (one digest per recipient
and day; a digest already sent is not sent again)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.management.messages import (
        COMPOSE_DIGESTS,
        SEND_DIGESTS,
        ComposeDigestsInput,
        ComposeDigestsResult,
        DailyDigestInput,
        DailyDigestResult,
        SendDigestsInput,
        SendDigestsResult,
    )


@workflow.defn(name="DailyDigest")
class DailyDigest:
    @workflow.run
    async def run(self, input: DailyDigestInput) -> DailyDigestResult:
        as_of = workflow.now()
        composed = await workflow.execute_activity(
            COMPOSE_DIGESTS,
            ComposeDigestsInput(as_of=as_of),
            result_type=ComposeDigestsResult,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
        # A mail server that is down is tried again for a few hours, then the digests stay
        # in the app (the next day's run does not resend them).
        sent = await workflow.execute_activity(
            SEND_DIGESTS,
            SendDigestsInput(day=as_of.date()),
            result_type=SendDigestsResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(minutes=1),
                maximum_interval=timedelta(minutes=30),
                maximum_attempts=10,
            ),
        )
        return DailyDigestResult(composed=composed.composed, sent=sent.sent)
