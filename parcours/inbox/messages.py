"""What crosses the Temporal boundary for the inbox: the ``InboxDaily`` workflow's schedule
and workflow ids, its activity's name, input and result (a day, counts)."""

from __future__ import annotations

from datetime import datetime

from parcours.core.messages import Message

WORKFLOW_NAME = "InboxDaily"
SCHEDULE_ID = "inbox-daily"
WORKFLOW_ID = "inbox-daily"
RUN_INBOX_DAY = "run_inbox_day"


class InboxDailyInput(Message):
    pass


class InboxDayInput(Message):
    # The pass's moment (the workflow's clock): deadlines within a week of it.
    as_of: datetime


class InboxDayResult(Message):
    due_soon: int
    summaries: int
