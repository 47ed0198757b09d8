"""The outbox: mail that leaves only if the transaction that decided it commits, and is not lost
when the SMTP server is down. It owns the ``outbox_mails`` table, its SQL (``OutboxRepository``),
``enqueue`` and the sender (``send_outbox``). It is shared plumbing, not a feature: every
feature may send mail, none owns the table.

    from parcours.core.mail import Mail
    from parcours.core.outbox import enqueue

    await enqueue(session, Mail(to=user.email, subject="…", body="…"))  # the caller's transaction

Who sends: the API right after the request's commit, the mails that request enqueued
(``api/deps.py``); the ``DeliverOutbox`` workflow every minute, whatever is left (SMTP down, a
mail enqueued by an activity, an API that stopped before sending).

Each mail at most once. A sender first claims a mail in its own committed transaction
(attempts + 1, ``next_attempt_at`` pushed past the SMTP exchange), so no other sender takes
it; then marks it sent, or keeps the error and when to try again (after
``mail_retry_after_s``, twice as long after each failure, at most an hour; given up after
``mail_max_attempts``). Only a sender that dies after the server took the mail and before it
marked it sent leaves it to go again once the claim expires; the mail keeps its Message-ID so
that mail clients show it once. A row holds the mail and its delivery, nothing else personal;
it is deleted ``mail_keep_days`` after it was sent (or given up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Index,
    Integer,
    String,
    Text,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, transaction, utcnow
from parcours.core.mail import Mail, MailNotSent, mail_enabled, send
from parcours.core.settings import Settings

log = logging.getLogger(__name__)

# Where a session keeps the ids of the mails enqueued in it (``Session.info``).
_ENQUEUED = "outbox_enqueued"
# A failed mail waits ``mail_retry_after_s``, doubled at each failure, up to this.
MAX_RETRY_DELAY = timedelta(hours=1)
# Mails one sender's run takes at most (the next run takes the rest).
BATCH = 100


class OutboxMail(Base):
    """A mail to send (``sent_at`` empty) or sent, with its delivery attempts."""

    __tablename__ = "outbox_mails"
    __table_args__ = (
        # What the senders read: the unsent mails, oldest first.
        Index(
            "ix_outbox_mails_unsent",
            "created_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
        # What the clean-up deletes.
        Index("ix_outbox_mails_sent_at", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Not taken before: a sender's claim while it sends, then the wait after a failure.
    next_attempt_at: Mapped[datetime | None]

    @property
    def mail(self) -> Mail:
        return Mail(to=self.recipient, subject=self.subject, body=self.body, html=self.html)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, mail: OutboxMail) -> None:
        self.session.add(mail)

    async def get(self, mail_id: str) -> OutboxMail | None:
        return await self.session.get(OutboxMail, mail_id)

    async def due(
        self, now: datetime, max_attempts: int, limit: int, ids: Sequence[str] | None = None
    ) -> list[str]:
        """The mails to try now (of ``ids`` when given), oldest first."""
        query = (
            select(OutboxMail.id)
            .where(*_due(now, max_attempts))
            .order_by(OutboxMail.created_at)
            .limit(limit)
        )
        if ids is not None:
            query = query.where(OutboxMail.id.in_(ids))
        return list((await self.session.scalars(query)).all())

    async def claim(
        self, mail_id: str, now: datetime, until: datetime, max_attempts: int
    ) -> OutboxMail | None:
        """Take the mail for one attempt, if it is still due: no other sender takes it before
        ``until``. None when another sender has it or sent it."""
        result = await self.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, *_due(now, max_attempts))
            .values(attempts=OutboxMail.attempts + 1, next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        if not result.rowcount:
            return None
        claimed: OutboxMail | None = await self.session.scalar(
            select(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .execution_options(populate_existing=True)
        )
        return claimed

    async def mark_sent(self, mail_id: str, at: datetime) -> None:
        await self.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(sent_at=at, next_attempt_at=None, last_error=None)
            .execution_options(synchronize_session=False)
        )

    async def mark_failed(self, mail_id: str, error: str, retry_at: datetime) -> None:
        await self.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(last_error=error[:500], next_attempt_at=retry_at)
            .execution_options(synchronize_session=False)
        )

    async def delete_done(self, before: datetime, max_attempts: int) -> int:
        """Delete the mails sent before ``before``, and those given up and created before it."""
        sent = await self.session.execute(
            delete(OutboxMail)
            .where(OutboxMail.sent_at < before)
            .execution_options(synchronize_session=False)
        )
        given_up = await self.session.execute(
            delete(OutboxMail)
            .where(
                OutboxMail.sent_at.is_(None),
                OutboxMail.attempts >= max_attempts,
                OutboxMail.created_at < before,
            )
            .execution_options(synchronize_session=False)
        )
        assert isinstance(sent, CursorResult) and isinstance(given_up, CursorResult)
        return int(sent.rowcount or 0) + int(given_up.rowcount or 0)


def _due(now: datetime, max_attempts: int) -> tuple[ColumnElement[bool], ...]:
    return (
        OutboxMail.sent_at.is_(None),
        OutboxMail.attempts < max_attempts,
        or_(OutboxMail.next_attempt_at.is_(None), OutboxMail.next_attempt_at <= now),
    )


async def enqueue(session: AsyncSession, mail: Mail) -> str:
    """Write ``mail`` to the outbox in the caller's transaction: it is sent once that
    transaction commits, never if it rolls back. Returns the outbox id."""
    row = OutboxMail(
        id=new_id(),
        recipient=mail.to,
        subject=mail.subject,
        body=mail.body,
        html=mail.html,
        created_at=utcnow(),
        attempts=0,
    )
    OutboxRepository(session).add(row)
    session.info.setdefault(_ENQUEUED, []).append(row.id)
    return row.id


def enqueued(session: AsyncSession) -> list[str]:
    """The ids of the mails enqueued in ``session`` (for the request that sends them once it
    committed)."""
    return list(session.info.get(_ENQUEUED, []))


@dataclass(frozen=True, slots=True)
class OutboxRun:
    sent: int = 0
    failed: int = 0
    # More mails were due than this run took (and the server did not fail).
    more: bool = False
    # False: no SMTP host configured, nothing was tried (the mails wait for one).
    enabled: bool = True


async def send_outbox(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    ids: Sequence[str] | None = None,
    *,
    limit: int = BATCH,
    progress: Callable[[], None] | None = None,
) -> OutboxRun:
    """Send the mails due now (of ``ids`` when given), each in three short transactions:
    claim, send, mark. Stops at the first failure that is the server's (down, timeout…):
    the other mails wait for the next run rather than each waiting for a timeout."""
    if not mail_enabled(settings):
        return OutboxRun(enabled=False)
    async with sessions() as session:
        due = await OutboxRepository(session).due(utcnow(), settings.mail_max_attempts, limit, ids)
    # Longer than a whole SMTP exchange (connect, STARTTLS, login, send: each its timeout).
    claim_for = timedelta(seconds=10 * settings.smtp_timeout_s)
    sent, failed, stopped = 0, 0, False
    for mail_id in due:
        if progress is not None:
            progress()
        now = utcnow()
        async with transaction(sessions) as session:
            claimed = await OutboxRepository(session).claim(
                mail_id, now, now + claim_for, settings.mail_max_attempts
            )
        if claimed is None:
            continue  # another sender has it, or already sent it
        try:
            await send(settings, claimed.mail, message_id=_message_id(settings, mail_id))
        except MailNotSent as error:
            failed += 1
            async with transaction(sessions) as session:
                await OutboxRepository(session).mark_failed(
                    mail_id, error.reason, utcnow() + _retry_delay(settings, claimed.attempts)
                )
            if claimed.attempts >= settings.mail_max_attempts:
                log.warning(
                    "mail given up", extra={"outbox_id": mail_id, "attempts": claimed.attempts}
                )
            if not error.refused:
                stopped = True
                break
            continue
        async with transaction(sessions) as session:
            await OutboxRepository(session).mark_sent(mail_id, utcnow())
        sent += 1
    return OutboxRun(sent=sent, failed=failed, more=len(due) == limit and not stopped)


async def delete_done_mails(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Delete the mails sent (or given up) more than ``mail_keep_days`` ago."""
    before = utcnow() - timedelta(days=settings.mail_keep_days)
    async with transaction(sessions) as session:
        return await OutboxRepository(session).delete_done(before, settings.mail_max_attempts)


def _retry_delay(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.mail_retry_after_s * 2 ** min(max(attempts - 1, 0), 20)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


def _message_id(settings: Settings, mail_id: str) -> str:
    """The same for every attempt at one mail: a mail sent twice shows once."""
    domain = settings.smtp_from.rpartition("@")[2] or "parcours.localhost"
    return f"<outbox-{mail_id}@{domain}>"
