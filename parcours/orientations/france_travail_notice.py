"""What starts the ``FranceTravailOrientationNotice`` workflow: France Travail is told of a
professional orientation, once per orientation decided (the workflow id is the person plus the
journey's event number of the decision, so a retried start never sends twice). Pure."""

from __future__ import annotations

from datetime import date

from parcours.core.messages import Message

FRANCE_TRAVAIL_NOTICE_WORKFLOW = "FranceTravailOrientationNotice"


def france_travail_notice_workflow_id(beneficiary_id: str, orientation_seq: int) -> str:
    return f"france-travail-notice-{beneficiary_id}-{orientation_seq}"


class FranceTravailNoticeStart(Message):
    beneficiary_id: str
    # The journey to tell of the outcome (signal ``record_outcome``).
    journey_workflow_id: str
    # The journey's event number once the orientation was decided.
    orientation_seq: int
    decided_on: date
    # The France Travail agency (a ``Structure``) and the référent the person is oriented to.
    structure_id: str | None = None
    referent_id: str | None = None


class FranceTravailNoticeResult(Message):
    notified: bool
    reference: str | None = None
    # Why not: a ``FAILURE_LABELS`` key (``parcours.orientations.service_messages``).
    reason: str | None = None
