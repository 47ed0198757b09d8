"""What crosses the Temporal boundary for e-mail: the ``DeliverOutbox`` workflow's schedule
and workflow ids, its activity's name, input and result (counts only: never a recipient)."""

from __future__ import annotations

from parcours.core.messages import Message

SEND_OUTBOX = "send_outbox_mails"


SCHEDULE_ID = "mail-outbox"


WORKFLOW_ID = "mail-outbox"


class DeliverOutboxInput(Message):
    # Mails per activity: the workflow goes on while a batch comes back full.
    batch_size: int = 100


class DeliverOutboxResult(Message):
    sent: int
    failed: int


class SendOutboxInput(Message):
    batch_size: int


class SendOutboxResult(Message):
    sent: int
    failed: int
    # More mails are due than the batch took (and the server did not fail).
    more: bool
    # No SMTP host configured: nothing was tried, the mails wait for one.
    email_enabled: bool
