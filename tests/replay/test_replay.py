"""Recorded journey histories still replay on today's workflow code.

Running journeys last years: a change to ``workflows/journey.py`` that would make their
histories non-deterministic fails here (guard such a change with ``workflow.patched``).
The histories are recorded by ``python -m tests.replay.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from tests.support.histories import HISTORIES
from workflows.journey import Journey

RECORDED = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def test_the_recorded_scenarios_are_all_there() -> None:
    assert {path.stem for path in RECORDED} >= {
        "complete_journey",
        "paused_and_reassigned",
        "stalled_then_moved_on",
    }
    for path in RECORDED:
        # Finished journeys: the replay covers every branch up to the result.
        last = load(path).events[-1]
        assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, path.name


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
async def test_a_recorded_history_replays(path: Path) -> None:
    # In the sandbox, as the tests run it: a non-deterministic call fails the replay.
    replayer = Replayer(
        workflows=[Journey],
        data_converter=pydantic_data_converter,
        unsandboxed_workflow_runner=SandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
