"""What the sanction pages and API read and send."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from parcours.sanctions.messages import Breach, Measure, SanctionCaseState


class SanctionOpen(BaseModel):
    breach: Breach
    # The appointment the person missed (required for an absence).
    appointment_id: str | None = Field(default=None, max_length=36)


class ReceiptCreate(BaseModel):
    received_on: date


class ObservationsCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class HearingRequestCreate(BaseModel):
    with_companion: bool = False


class HearingCreate(BaseModel):
    held_on: date
    with_companion: bool = False


class TeamOpinionCreate(BaseModel):
    session_on: date
    member_ids: list[str] = Field(min_length=1, max_length=30)
    opinion: Literal["sanction", "no_sanction"]


class DecisionCreate(BaseModel):
    measure: Measure
    rate_percent: int = Field(default=0, ge=0, le=100)
    months: int = Field(default=0, ge=0, le=12)


class SanctionCaseRead(BaseModel):
    """A case as the pages show it: its state, the bounds in French and the cap computed from
    the household the CAF declared."""

    case: SanctionCaseState
    breach_label: str
    measure_label: str | None
    cap_percent: int
    bounds: str
    # The answer window's last day, and whether a decision may be taken today.
    window_ends_on: date | None
    decision_possible_from: date | None


BREACHES = [(b.value, b) for b in Breach]
