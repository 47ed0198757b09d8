"""What crosses the Temporal boundary for the carnet: the ``RetentionSweep`` workflow (RGPD),
its schedule, its activity's name, input and result (ids and counts only)."""

from __future__ import annotations

from parcours.core.messages import Message

ANONYMISE_EXPIRED = "anonymise_expired_journeys"


SCHEDULE_ID = "retention-sweep-daily"


class RetentionSweepInput(Message):
    retention_months: int = 24
    batch_size: int = 200


class RetentionSweepResult(Message):
    anonymised: int


class AnonymiseBatchInput(Message):
    retention_months: int
    batch_size: int


class AnonymiseBatchResult(Message):
    anonymised: int
    more: bool
