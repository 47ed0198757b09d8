"""The daily digest's activities: compose each recipient's digest (one transaction each, once
per day), then e-mail the day's digests when an SMTP host is configured (the platform's one
sender, ``parcours.core.mail``; the ``digests`` table is the digests' own outbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.expected import expected_failure
from parcours.access.repository import PeopleRepository
from parcours.core.db import transaction, utcnow
from parcours.core.mail import Mail, MailNotSent, mail_enabled, send
from parcours.core.settings import Settings
from parcours.management.messages import (
    COMPOSE_DIGESTS,
    SEND_DIGESTS,
    ComposeDigestsInput,
    ComposeDigestsResult,
    SendDigestsInput,
    SendDigestsResult,
)
from parcours.management.repository import DigestRepository
from parcours.management.service import DigestService, digest_read, digest_text

DIGESTS_NOT_SENT = "DigestsNotSent"


class DigestActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=COMPOSE_DIGESTS)
    async def compose_digests(self, data: ComposeDigestsInput) -> ComposeDigestsResult:
        async with self.sessions() as session:
            recipients = await DigestService(session, self.settings).recipients()
        composed = 0
        for recipient_id in recipients:
            async with transaction(self.sessions) as session:
                if await DigestService(session, self.settings).compose(recipient_id, data.as_of):
                    composed += 1
            activity.heartbeat()
        activity.logger.info(
            "digests composed", extra={"recipients": len(recipients), "composed": composed}
        )
        return ComposeDigestsResult(recipients=len(recipients), composed=composed)

    @activity.defn(name=SEND_DIGESTS)
    async def send_digests(self, data: SendDigestsInput) -> SendDigestsResult:
        if not mail_enabled(self.settings):
            return SendDigestsResult(sent=0, email_enabled=False)
        async with self.sessions() as session:
            ids = await DigestRepository(session).unsent_ids(data.day)
        sent, failed = 0, 0
        for digest_id in ids:
            activity.heartbeat()
            async with self.sessions() as session:
                digest = await DigestRepository(session).get(digest_id)
                recipient = (
                    await PeopleRepository(session).user(digest.recipient_id) if digest else None
                )
                read = await digest_read(session, digest) if digest else None
            if digest is None or recipient is None or read is None or read.empty:
                continue  # nothing to say: no e-mail
            subject, body = digest_text(
                read, recipient, self.settings.public_app_url, self.settings.digest_waiting_days
            )
            try:
                await send(self.settings, Mail(to=recipient.email, subject=subject, body=body))
            except MailNotSent as error:
                failed += 1
                async with transaction(self.sessions) as session:
                    found = await DigestRepository(session).get(digest_id)
                    if found is not None:
                        found.send_error = error.reason[:500]
                continue
            sent += 1
            async with transaction(self.sessions) as session:
                found = await DigestRepository(session).get(digest_id)
                if found is not None:
                    found.sent_at, found.send_error = utcnow(), None
        activity.logger.info("digests sent", extra={"sent": sent, "failed": failed})
        if failed:
            # An SMTP server down, like a partner's outage: retried later, only the digests not
            # sent yet go again; each one's error is kept on its row.
            raise expected_failure(
                f"{failed} résumé(s) non envoyé(s) par courriel", DIGESTS_NOT_SENT
            )
        return SendDigestsResult(sent=sent, email_enabled=True)
