"""``KeepClosedMonths``: every day, each département's indicators are read once by the
platform, so that their closed months are kept before a manager asks (the first read of a
month not kept counts it). Started by a Temporal schedule; the work is in an activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.indicators.messages import (
        KEEP_CLOSED_MONTHS,
        KeepClosedMonthsInput,
        KeepClosedMonthsResult,
    )


@workflow.defn(name="KeepClosedMonths")
class KeepClosedMonths:
    @workflow.run
    async def run(self, input: KeepClosedMonthsInput) -> KeepClosedMonthsResult:
        return await workflow.execute_activity(
            KEEP_CLOSED_MONTHS,
            input,
            result_type=KeepClosedMonthsResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=5),
        )
