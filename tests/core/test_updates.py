"""An update's failure as the API answers it: a refusal is a 409 with its reason in French; any
other failure stays an error, raised from what failed in the workflow (the log says it, where
the exception alone said « Workflow update failed »)."""

from __future__ import annotations

import traceback
import uuid

import pytest
from temporalio import workflow
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from parcours.core.errors import Conflict
from parcours.core.temporal import TRANSITION_REFUSED, run_update


@workflow.defn(name="UpdateProbe")
class UpdateProbe:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def refuse(self) -> None:
        raise ApplicationError("Parcours en pause : reprenez-le d'abord.", type=TRANSITION_REFUSED)

    @workflow.update
    async def break_down(self) -> None:
        raise ApplicationError("read model unreachable", type="ReadModelDown")


async def test_a_refusal_is_a_conflict_and_a_failure_keeps_its_cause(
    time_env: WorkflowEnvironment,
) -> None:
    queue = f"updates-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client,
        task_queue=queue,
        workflows=[UpdateProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await time_env.client.start_workflow(
            UpdateProbe.run, id=f"probe-{queue}", task_queue=queue
        )
        with pytest.raises(Conflict) as refused:
            await run_update(handle, "refuse", None, result_type=type(None), gone="fini")
        assert refused.value.message == "Parcours en pause : reprenez-le d'abord."

        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await run_update(handle, "break_down", None, result_type=type(None), gone="fini")
        assert isinstance(failed.value.__cause__, ApplicationError)
        logged = "".join(traceback.format_exception(failed.value))
        assert "read model unreachable" in logged
        await handle.terminate()
