"""What crosses the Temporal boundary for a sanction case (suspension-remobilisation, décret
2025-478): the ``SanctionCase`` workflow's name and id, what the journey starts it with (the
legal bounds captured from the settings), its state, its updates and activities.

Ids, dates, codes and figures only: the person's observations, the letter and her contact
details stay in SQL and in her carnet."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from parcours.core.messages import Message

SANCTION_CASE_WORKFLOW = "SanctionCase"


def sanction_case_workflow_id(case_id: str) -> str:
    return f"sanction-{case_id}"


# The journey tells its open cases that the person signed or updated her contract.
REMOBILISE_SIGNAL = "remobilise"

# Activities are named, not imported: their module touches the database or a partner.
SEND_SANCTION_NOTICE = "send_sanction_notice"


class Breach(StrEnum):
    ABSENCE = "absence"
    CONTRACT_NOT_SIGNED = "contract_not_signed"
    PLAN_NOT_DONE = "plan_not_done"


class Measure(StrEnum):
    SUSPENSION = "suspension"
    REMOVAL = "removal"
    NONE = "none"


class CaseStatus(StrEnum):
    # Opened: the notice is sent, its receipt not yet dated.
    OPENED = "opened"
    # Receipt dated: the answer window runs.
    NOTIFIED = "notified"
    # A suspension or removal runs.
    SANCTIONED = "sanctioned"
    # Lifted (remobilisation) or ended, or closed without sanction.
    CLOSED = "closed"


class SanctionBounds(Message):
    """The legal bounds (décret 2025-478, R.262-68 and following), captured from the settings
    when the case opens so that a case keeps the rules it started under."""

    answer_days: int = 10
    first_min_percent: int = 30
    first_min_months: int = 1
    first_max_months: int = 2
    repeated_min_percent: int = 30
    repeated_max_percent: int = 100
    repeated_min_months: int = 1
    repeated_max_months: int = 4
    # R.262-68-6: a household of more than one person, or receiving the single-parent
    # supplement.
    household_cap_percent: int = 50
    # A previous case decided (suspension or removal) within this many months → repeated.
    repeat_window_months: int = 12


class SanctionCaseStart(Message):
    case_id: str
    beneficiary_id: str
    journey_workflow_id: str
    breach: Breach
    repeated: bool
    # The unexcused absence the case comes from, if any.
    appointment_id: str | None = None
    opened_by: str | None = None
    opened_at: datetime
    bounds: SanctionBounds = Field(default_factory=SanctionBounds)


class SanctionCaseState(BaseModel):
    """The case as its workflow holds it; also what its ``current`` query returns."""

    case_id: str
    breach: Breach
    repeated: bool
    status: CaseStatus = CaseStatus.OPENED
    opened_at: datetime
    appointment_id: str | None = None
    received_on: date | None = None
    window_ends_on: date | None = None
    observations_received: bool = False
    hearing_requested: bool = False
    hearing_on: date | None = None
    hearing_with_companion: bool | None = None
    team_session_on: date | None = None
    team_member_ids: list[str] = Field(default_factory=list)
    team_opinion: Literal["sanction", "no_sanction"] | None = None
    measure: Measure | None = None
    rate_percent: int | None = None
    months: int | None = None
    cap_percent: int | None = None
    decided_on: date | None = None
    ends_on: date | None = None
    lifted_on: date | None = None
    lift_reason: Literal["remobilisation", "ended"] | None = None
    caf_told: bool = False
    france_travail_proposed: bool = False


class CaseAction(Message):
    actor_id: str | None = None


class RecordReceiptInput(CaseAction):
    """The date the person received the notice (recorded by the référente, or by the person
    acknowledging it in her space)."""

    received_on: date
    by_person: bool = False


class SendObservationsInput(CaseAction):
    """The person sent observations (their text stays in her carnet)."""


class RequestHearingInput(CaseAction):
    with_companion: bool = False


class RecordHearingInput(CaseAction):
    held_on: date
    with_companion: bool = False


class RecordTeamOpinionInput(CaseAction):
    """The équipe pluridisciplinaire's session: its date, its members (user ids), its
    opinion."""

    session_on: date
    member_ids: list[str] = Field(min_length=1, max_length=30)
    opinion: Literal["sanction", "no_sanction"]


class DecideSanctionInput(CaseAction):
    """The président's decision. ``cap_percent`` is what the platform computed from the
    household the CAF declared (100 when no cap applies)."""

    measure: Measure
    rate_percent: int = Field(ge=0, le=100)
    months: int = Field(ge=0, le=12)
    cap_percent: int = Field(default=100, ge=0, le=100)


class RemobiliseInput(Message):
    """The person signed or updated her contrat d'engagement (the journey tells its cases)."""

    signed_on: date


class CafSanctionInput(Message):
    """A decision (or its lifting) sent to the CAF, under one idempotency key."""

    beneficiary_id: str
    idempotency_key: str = Field(min_length=1, max_length=255)
    case_id: str
    event: Literal["decided", "lifted"]
    measure: Measure
    rate_percent: int
    months: int
    starts_on: date
    ends_on: date


class FranceTravailRemovalInput(Message):
    beneficiary_id: str
    idempotency_key: str = Field(min_length=1, max_length=255)
    case_id: str
    removal_started_on: date
    removal_ended_on: date


class PartnerAck(Message):
    sent: bool
    reference: str | None = None
    replayed: bool = False
    reason: str | None = None


class SanctionNoticeInput(Message):
    """Print the notice (facts, planned measure, rights, deadline) into the carnet and tell the
    person by e-mail and SMS."""

    case_id: str
    beneficiary_id: str
    breach: Breach
    repeated: bool
    appointment_id: str | None = None
    answer_days: int
    opened_at: datetime
