"""``RetentionSweep``: anonymises people whose journey closed longer ago than the retention
period. Started every day by a Temporal schedule; the work is in an activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.carnet.messages import (
        ANONYMISE_EXPIRED,
        AnonymiseBatchInput,
        AnonymiseBatchResult,
        RetentionSweepInput,
        RetentionSweepResult,
    )


@workflow.defn(name="RetentionSweep")
class RetentionSweep:
    @workflow.run
    async def run(self, input: RetentionSweepInput) -> RetentionSweepResult:
        total = 0
        while True:
            batch = await workflow.execute_activity(
                ANONYMISE_EXPIRED,
                AnonymiseBatchInput(
                    retention_months=input.retention_months, batch_size=input.batch_size
                ),
                result_type=AnonymiseBatchResult,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            )
            total += batch.anonymised
            if not batch.more:
                return RetentionSweepResult(anonymised=total)
