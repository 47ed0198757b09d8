"""How one run of the simulators is set up: where callbacks go, how they are signed and retried,
and what the partners hold when they start."""

from __future__ import annotations

from dataclasses import dataclass

DEV_CALLBACK_SECRET = "dev-callback-secret-change-me"
DEFAULT_PORT = 8100
# The local mailbox's SMTP port and folder (``simulators/mailbox.py``).
DEFAULT_SMTP_PORT = 1025
DEFAULT_MAILBOX_DIR = "var/mail"


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    # Parcours's endpoint for partner callbacks; None keeps callbacks recorded but unsent.
    callback_url: str | None = None
    callback_secret: str = DEV_CALLBACK_SECRET
    # Delivery of one callback: attempts while Parcours answers 5xx or cannot be reached,
    # waiting callback_backoff_s, then twice as long, and so on.
    callback_attempts: int = 4
    callback_backoff_s: float = 0.5
    callback_timeout_s: float = 5.0
    # Funders (France Travail, Région) decide on their own this long after a training request;
    # None: only when told to (``POST /…/_decide/{reference}``).
    decision_delay_s: float | None = None
    # False: the Région decides only when told to (in the demo, its staff decide in Parcours'
    # funders' console), France Travail still on its own.
    region_decides_alone: bool = True
    feed_page_size: int = 100
    # Demo data loaded at start (and after ``POST /_reset``): this many CAF feed events, and
    # France Travail registrations for most of the people they open rights for.
    demo_events: int = 0
    seed: int = 0
    # The local mailbox: mails kept as .eml files in this folder and listed at /mailbox
    # (None: no mailbox), taken by an SMTP server on mailbox_smtp_host:mailbox_smtp_port
    # (None: the page only).
    mailbox_dir: str | None = None
    mailbox_smtp_host: str = "127.0.0.1"
    mailbox_smtp_port: int | None = None
    # The SMS provider: the API key it expects (None: any non-empty key), where its delivery
    # reports go (None: kept, not sent) with the shared secret, and how long after an SMS it
    # reports it delivered on its own (None: only when told, ``POST /sms/_report/{id}``).
    sms_api_key: str | None = None
    sms_report_url: str | None = None
    sms_report_secret: str = ""
    sms_report_delay_s: float | None = None
