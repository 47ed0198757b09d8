"""How the platform sends an e-mail: a ``Mail`` (recipient, subject, plain text, optional HTML
alternative) and ``send``, the one SMTP client, configured by the ``PARCOURS_SMTP_*`` settings.

    await send(settings, Mail(to=user.email, subject="…", body="…"))

A failure, whatever its cause, is one ``MailNotSent`` (logged once, here). A feature that must
not lose a mail, nor send one for a transaction that rolled back, enqueues it in the outbox
instead (``parcours.core.outbox.enqueue``), which sends through this module.

``smtplib`` runs in a thread: the standard library's client is blocking, and one mail at a
time is all the platform needs.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from parcours.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    # Plain text: every mail has it; ``html`` is an alternative for clients that show HTML.
    body: str
    html: str | None = None


class MailNotSent(Exception):
    """The SMTP server did not take the mail. ``refused``: it refused this very mail (a 5xx
    answer to its recipient or content) and will refuse it again; otherwise the server could
    not be used at all (down, timeout, TLS, authentication, a temporary 4xx answer) and no
    other mail would go through now either."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


def mail_enabled(settings: Settings) -> bool:
    """Whether an SMTP server is configured (``PARCOURS_SMTP_HOST``)."""
    return bool(settings.smtp_host)


async def send(settings: Settings, mail: Mail, *, message_id: str | None = None) -> None:
    """Hand ``mail`` to the SMTP server, or raise ``MailNotSent``. ``message_id`` (``<…@…>``)
    lets mail clients recognise the same mail sent twice; a fresh one by default."""
    if not settings.smtp_host:
        raise MailNotSent("no SMTP host configured (PARCOURS_SMTP_HOST)")
    message = _message(settings, mail, message_id)
    try:
        await asyncio.to_thread(_deliver, settings, message)
    except MailNotSent as error:
        # One line, without the recipient (personal data) nor the content.
        log.warning(
            "mail not sent",
            extra={
                "smtp": f"{settings.smtp_host}:{settings.smtp_port}",
                "error": error.reason,
                "refused": error.refused,
                "message_id": message["Message-ID"],
            },
        )
        raise
    log.debug("mail sent", extra={"message_id": message["Message-ID"]})


def _message(settings: Settings, mail: Mail, message_id: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = settings.smtp_from.rpartition("@")[2] or "parcours.localhost"
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    message.set_content(mail.body)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def _deliver(settings: Settings, message: EmailMessage) -> None:
    """The SMTP exchange (in a thread); every failure becomes ``MailNotSent``."""
    assert settings.smtp_host is not None
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise MailNotSent(
            f"recipient refused ({', '.join(map(str, codes))})",
            refused=all(code >= 500 for code in codes),
        ) from error
    except smtplib.SMTPDataError as error:
        raise MailNotSent(
            f"content refused ({error.smtp_code} {_text(error.smtp_error)})",
            refused=error.smtp_code >= 500,
        ) from error
    except smtplib.SMTPResponseException as error:
        raise MailNotSent(f"{error.smtp_code} {_text(error.smtp_error)}") from error
    except OSError as error:  # smtplib.SMTPException too: connection, timeout, TLS
        raise MailNotSent(f"{type(error).__name__}: {error}"[:500]) from error


def _text(answer: bytes | str) -> str:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else answer
    return text[:300]
