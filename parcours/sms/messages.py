"""What crosses the Temporal boundary for SMS: the ``DeliverSms`` workflow's schedule and
workflow ids, its activity's name, input and result (counts only: never a number or a text)."""

from __future__ import annotations

from parcours.core.messages import Message

SEND_DUE_SMS = "send_due_sms"

SCHEDULE_ID = "sms-outbox"

WORKFLOW_ID = "sms-outbox"


class DeliverSmsInput(Message):
    # Messages per activity: the workflow goes on while a batch comes back full.
    batch_size: int = 100


class DeliverSmsResult(Message):
    sent: int
    retried: int
    refused: int


class SendDueSmsInput(Message):
    batch_size: int


class SendDueSmsResult(Message):
    sent: int
    retried: int
    refused: int
    # More messages are due than the batch took (and the provider did not fail).
    more: bool
    # No provider configured: nothing was tried, the messages wait for one.
    sms_enabled: bool
