"""What crosses the Temporal boundary for the managers' console: the ``DailyDigest`` workflow's
schedule and workflow ids, its activities' names, inputs and results (ids and counts only)."""

from __future__ import annotations

from datetime import date, datetime

from parcours.core.messages import Message

COMPOSE_DIGESTS = "compose_digests"


SEND_DIGESTS = "send_digests"


SCHEDULE_ID = "daily-digest"


WORKFLOW_ID = "daily-digest"


class DailyDigestInput(Message):
    pass


class ComposeDigestsInput(Message):
    # The digest's moment: "newly stalled" runs up to it (the workflow's clock).
    as_of: datetime


class ComposeDigestsResult(Message):
    recipients: int
    composed: int


class SendDigestsInput(Message):
    day: date


class SendDigestsResult(Message):
    sent: int
    # No SMTP host configured: the digests stay in the app only.
    email_enabled: bool


class DailyDigestResult(Message):
    composed: int
    sent: int
