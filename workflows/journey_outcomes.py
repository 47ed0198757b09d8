"""What the journey and the workflows around it (training requests, orientations to services,
France Travail notices) share: how they write their read models, and how they tell the journey
of an outcome. Deterministic: safe in any workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from parcours.journey.messages import JourneyOutcomeInput, ScalarDetail

# The read models are our own database: retry for as long as it takes, they must catch up.
READ_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)

# The journey's signal for what is settled outside its steps.
RECORD_OUTCOME = "record_outcome"


async def tell_journey(
    journey_workflow_id: str,
    kind: str,
    detail: Mapping[str, ScalarDetail],
    actor_id: str | None = None,
) -> None:
    """Signal ``record_outcome`` to the journey. A journey that has ended (closed, erased)
    cannot be told, and that must not fail the caller: its outcome is in SQL all the same."""
    journey = workflow.get_external_workflow_handle(journey_workflow_id)
    outcome = JourneyOutcomeInput(kind=kind, actor_id=actor_id, detail=dict(detail))
    try:
        await journey.signal(RECORD_OUTCOME, outcome)
    except FailureError as error:
        workflow.logger.info(
            "journey not told",
            extra={"journey": journey_workflow_id, "kind": kind, "error": str(error)},
        )
