"""What crosses the Temporal boundary for the indicators: the ``KeepClosedMonths`` workflow,
its daily schedule, its activity's name, input and result (counts only)."""

from __future__ import annotations

from parcours.core.messages import Message

KEEP_CLOSED_MONTHS = "keep_closed_months"
SCHEDULE_ID = "indicator-months-daily"
WORKFLOW_ID = "indicator-months"


class KeepClosedMonthsInput(Message):
    # How far back each département's months are read (and their closed months kept).
    months: int = 24


class KeepClosedMonthsResult(Message):
    territories: int
