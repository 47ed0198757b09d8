"""``InboxDaily``: each morning, an inbox item for every journey whose step ends within a week,
and the daily summary mail of each agent who chose one. Started by a Temporal schedule the
worker creates; the work is in one activity, safe to retry (one item per journey and deadline,
one summary per agent and day)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.inbox.messages import (
        RUN_INBOX_DAY,
        WORKFLOW_NAME,
        InboxDailyInput,
        InboxDayInput,
        InboxDayResult,
    )


@workflow.defn(name=WORKFLOW_NAME)
class InboxDaily:
    @workflow.run
    async def run(self, input: InboxDailyInput) -> InboxDayResult:
        return await workflow.execute_activity(
            RUN_INBOX_DAY,
            InboxDayInput(as_of=workflow.now()),
            result_type=InboxDayResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
