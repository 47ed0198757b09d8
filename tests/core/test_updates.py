"""An update's failure as the API answers it: a refusal is a 409 with its reason in French; an
update the engine rejects because no worker took it up (the engine restarting) is sent again,
then a 503; any other failure stays an error, raised from what failed in the workflow (the log
says it, where the exception alone said « Workflow update failed »)."""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from parcours.core import temporal
from parcours.core.errors import Conflict, Unavailable
from parcours.core.temporal import TRANSITION_REFUSED, UNPROCESSED_UPDATE, run_update
from tests.support.workflows import end_when_settled


@workflow.defn(name="UpdateProbe")
class UpdateProbe:
    def __init__(self) -> None:
        self._done = False
        self._worker_back = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def refuse(self) -> None:
        raise ApplicationError("Parcours en pause : reprenez-le d'abord.", type=TRANSITION_REFUSED)

    @workflow.update
    async def break_down(self) -> None:
        raise ApplicationError("read model unreachable", type="ReadModelDown")

    @workflow.signal
    def worker_back(self) -> None:
        self._worker_back = True

    @workflow.update
    async def take_up(self) -> str:
        return "appliquée"

    @take_up.validator
    def _not_yet(self) -> None:
        # As the engine rejects an update no worker took up: nothing recorded, the same id
        # may come again.
        if not self._worker_back:
            raise ApplicationError("Workflow Update is rejected", type=UNPROCESSED_UPDATE)


Probe = Callable[[], Awaitable[WorkflowHandle[Any, Any]]]


@pytest.fixture
async def probe(time_env: WorkflowEnvironment) -> AsyncIterator[Probe]:
    """Starts an ``UpdateProbe`` on a worker of its own (ended after the test)."""
    queue = f"updates-{uuid.uuid4().hex[:8]}"
    started: list[WorkflowHandle[Any, Any]] = []

    async def start() -> WorkflowHandle[Any, Any]:
        handle = await time_env.client.start_workflow(
            UpdateProbe.run, id=f"probe-{queue}-{len(started)}", task_queue=queue
        )
        started.append(handle)
        return handle

    async with Worker(
        time_env.client,
        task_queue=queue,
        workflows=[UpdateProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield start
        await end_when_settled(*started)


async def test_a_refusal_is_a_conflict_and_a_failure_keeps_its_cause(probe: Probe) -> None:
    handle = await probe()
    with pytest.raises(Conflict) as refused:
        await run_update(handle, "refuse", None, result_type=type(None), gone="fini")
    assert refused.value.message == "Parcours en pause : reprenez-le d'abord."

    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await run_update(handle, "break_down", None, result_type=type(None), gone="fini")
    assert isinstance(failed.value.__cause__, ApplicationError)
    logged = "".join(traceback.format_exception(failed.value))
    assert "read model unreachable" in logged


async def test_an_update_no_worker_took_up_is_sent_again_then_a_503(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = await probe()
    # The worker comes back while the action waits: it is applied, once.
    action = asyncio.create_task(run_update(handle, "take_up", None, result_type=str, gone="fini"))
    await asyncio.sleep(1)
    assert not action.done()
    await handle.signal(UpdateProbe.worker_back)
    assert await action == "appliquée"

    # It never comes back: a 503, not an error.
    other = await probe()
    monkeypatch.setattr(temporal, "UPDATE_WAIT_S", 1.5)
    with pytest.raises(Unavailable):
        await run_update(other, "take_up", None, result_type=str, gone="fini")
