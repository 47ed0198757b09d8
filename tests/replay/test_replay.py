"""Recorded workflow histories still replay on today's workflow code.

Journeys last years, training requests and orientations weeks, CAF imports continue as new: a
change to a workflow module that would make the histories running workflows already have
non-deterministic fails here (guard such a change with ``workflow.patched``). Every history is
replayed by the worker's own list of workflows. The histories are recorded by
``python -m tests.replay.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from tests.support.histories import HISTORIES
from worker.assembly import WORKFLOWS

RECORDED = sorted(HISTORIES.glob("*.json"))

# What each scenario of the recorder writes, and the histories older code recorded.
SCENARIOS = {
    "complete_journey",
    "paused_and_reassigned",
    "stalled_then_moved_on",
    "training_request_reminded",
    "journey_requested_training",
    "service_orientation_expired",
    "journey_oriented_to_service",
    "france_travail_notice",
    "partner_lookup",
    "journey_continued_as_new",
    "caf_import_continued_as_new",
    "orientation_decision_requested",
    "inbox_daily",
    "appointment_attended",
    "journey_with_appointment",
    "reoriented_after_social_review",
    "sanction_ended",
    "sanction_removal_proposed",
    "sanction_lifted",
    "sanction_remobilised_before_decision",
    "journey_with_sanctions",
    "enrolled_past_the_delay",
}
OLDER = {
    f"{journey}_before_{version}"
    for journey in ("complete_journey", "paused_and_reassigned", "stalled_then_moved_on")
    for version in ("v2", "v3", "v4")
}
# Their first run ends by continuing as new: the replay covers that path.
CONTINUED = {"journey_continued_as_new", "caf_import_continued_as_new", "journey_bounded_history"}

FINISHED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def last_event(path: Path) -> EventType.ValueType:
    return load(path).events[-1].event_type


def test_the_recorded_scenarios_are_all_there() -> None:
    assert {path.stem for path in RECORDED} >= SCENARIOS | OLDER
    for path in RECORDED:
        # Runs that finished: the replay covers every branch up to the result, or up to the
        # continue-as-new that carries the workflow on.
        assert last_event(path) in FINISHED, path.name
    for name in CONTINUED:
        assert (
            last_event(HISTORIES / f"{name}.json")
            == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ), name


def test_every_workflow_type_of_the_worker_has_a_history() -> None:
    recorded = [load(path).events[0] for path in RECORDED]
    names = {e.workflow_execution_started_event_attributes.workflow_type.name for e in recorded}
    # The names ``@workflow.defn`` gave them (the SDK exports its definition type for this).
    assert names >= {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
async def test_a_recorded_history_replays(path: Path) -> None:
    # In the sandbox, as the tests run it: a non-deterministic call fails the replay.
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        unsandboxed_workflow_runner=SandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
