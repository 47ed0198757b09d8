"""What a journey gives the child workflows it starts for a person's requests: a
``TrainingRequest`` to a training's funder, a ``ServiceOrientation`` to a service's structure.

Ids and decisions only, never personal data (the activities read that from SQL). Pure: safe to
import into any workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from parcours.core.messages import Message

TRAINING_REQUEST_WORKFLOW = "TrainingRequest"
SERVICE_ORIENTATION_WORKFLOW = "ServiceOrientation"

Funder = Literal["region", "france_travail"]


def training_request_workflow_id(request_id: str) -> str:
    return f"training-request-{request_id}"


def service_orientation_workflow_id(orientation_id: str) -> str:
    return f"service-orientation-{orientation_id}"


class TrainingRequestStart(Message):
    """Input of the ``TrainingRequest`` workflow, started by the journey."""

    request_id: str
    beneficiary_id: str
    # The journey to tell of each outcome (signal ``record_outcome``).
    journey_workflow_id: str
    training_id: str
    funder: Funder
    territory: str
    referent_id: str | None = None
    structure_id: str | None = None
    requested_by: str | None = None
    requested_at: datetime


class ServiceOrientationStart(Message):
    """Input of the ``ServiceOrientation`` workflow, started by the journey."""

    orientation_id: str
    beneficiary_id: str
    journey_workflow_id: str
    # The service and its structure in the resource base (``resource_services.id`` and
    # ``resource_structures.id``, as strings).
    service_id: str
    resource_structure_id: str
    # The line of the person's plan this orientation is (written by the service that asked).
    plan_action_id: str | None = None
    territory: str
    referent_id: str | None = None
    structure_id: str | None = None
    requested_by: str | None = None
    requested_at: datetime
