"""What the exits' pages and API read and send."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from parcours.exits.rules import code_problem
from parcours.journey.messages import ExitReason


class ExitCodeRead(BaseModel):
    code: str
    label: str
    exit_reason: ExitReason
    positive: bool
    active: bool


class ExitCodeUpdate(BaseModel):
    """An administrator's change to one code (its code stays)."""

    label: str = Field(min_length=2, max_length=120)
    exit_reason: ExitReason
    positive: bool = False
    active: bool = False


class ExitCodeCreate(ExitCodeUpdate):
    code: str
    active: bool = True

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip()
        if problem := code_problem(value):
            raise ValueError(problem)
        return value
