"""Recorded workflow histories: where the replay tests keep them, and every run of a workflow
read back from the server (following continue-as-new)."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"


async def every_run(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of the workflow ``workflow_id``, first to last, following continue-as-new."""
    described = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = described.raw_description.workflow_execution_info.first_run_id
    histories = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories
