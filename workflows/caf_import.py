"""``CafImport``: one CAF feed file imported, batch after batch, with its progress.

The file's lines wait in SQL (``caf_feed_lines``, stored before the workflow starts); the
workflow only carries the file's id (its SHA-256: the same file is one import, ``caf-import-
<sha256>``) and counts. Each batch is an activity that applies its lines one by one and is
idempotent: a line already applied is not applied again, a CAF event already applied (by this
file or another) changes nothing. The ``progress`` query says where the import is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import Message

CAF_IMPORT_WORKFLOW = "CafImport"
BEGIN_CAF_IMPORT = "begin_caf_import"
APPLY_CAF_FEED_BATCH = "apply_caf_feed_batch"
FINISH_CAF_IMPORT = "finish_caf_import"

# Our own database and Temporal: retry until they are back, the import must finish.
IMPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidFeed"],
)


def caf_import_workflow_id(file_id: str) -> str:
    return f"caf-import-{file_id}"


class CafImportCounts(Message):
    processed: int = 0
    created: int = 0
    signalled: int = 0
    unchanged: int = 0
    rejected: int = 0

    def __add__(self, other: CafImportCounts) -> CafImportCounts:
        return CafImportCounts(
            processed=self.processed + other.processed,
            created=self.created + other.created,
            signalled=self.signalled + other.signalled,
            unchanged=self.unchanged + other.unchanged,
            rejected=self.rejected + other.rejected,
        )


class CafImportProgress(Message):
    file_id: str
    lines: int = 0
    counts: CafImportCounts = CafImportCounts()
    done: bool = False


class CafImportInput(Message):
    file_id: str
    batch_lines: int = 500
    # Set when the import continues as new.
    next_line: int | None = None
    last_line: int | None = None
    progress: CafImportProgress | None = None


class CafImportRef(Message):
    file_id: str


class CafImportPlan(Message):
    lines: int
    first_line: int
    last_line: int


class CafFeedBatchInput(Message):
    file_id: str
    first_line: int
    last_line: int


Result = TypeVar("Result", bound=Message)


async def _activity(name: str, arg: Message, result_type: type[Result]) -> Result:
    result: Result = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        # A batch heartbeats as it goes: a dead worker is noticed in 15 seconds.
        start_to_close_timeout=timedelta(minutes=30),
        heartbeat_timeout=timedelta(seconds=15),
        retry_policy=IMPORT_RETRY,
    )
    return result


@workflow.defn(name=CAF_IMPORT_WORKFLOW)
class CafImport:
    @workflow.init
    def __init__(self, input: CafImportInput) -> None:
        self._progress = input.progress or CafImportProgress(file_id=input.file_id)

    @workflow.run
    async def run(self, input: CafImportInput) -> CafImportProgress:
        ref = CafImportRef(file_id=input.file_id)
        position, last = input.next_line, input.last_line
        if position is None or last is None:
            plan = await _activity(BEGIN_CAF_IMPORT, ref, CafImportPlan)
            self._progress = self._progress.model_copy(update={"lines": plan.lines})
            position, last = plan.first_line, plan.last_line
        while position <= last:
            end = min(position + input.batch_lines - 1, last)
            counts = await _activity(
                APPLY_CAF_FEED_BATCH,
                CafFeedBatchInput(file_id=input.file_id, first_line=position, last_line=end),
                CafImportCounts,
            )
            self._progress = self._progress.model_copy(
                update={"counts": self._progress.counts + counts}
            )
            position = end + 1
            if position <= last and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "next_line": position,
                            "last_line": last,
                            "progress": self._progress,
                        }
                    )
                )
        # The totals as SQL has them (the reference), and the lines' texts forgotten.
        final = await _activity(FINISH_CAF_IMPORT, ref, CafImportCounts)
        self._progress = self._progress.model_copy(update={"counts": final, "done": True})
        return self._progress

    @workflow.query
    def progress(self) -> CafImportProgress:
        return self._progress
