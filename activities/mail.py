"""The outbox's activity: send the mails due now, one batch, then delete the mails sent long
ago (``parcours.core.outbox``). Safe to retry: each mail is claimed before it is sent and
marked sent after, so a retry sends only what is still due."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from parcours.core.outbox import delete_done_mails, send_outbox
from parcours.core.settings import Settings
from parcours.mail.messages import SEND_OUTBOX, SendOutboxInput, SendOutboxResult


class OutboxActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=SEND_OUTBOX)
    async def send_outbox_mails(self, data: SendOutboxInput) -> SendOutboxResult:
        run = await send_outbox(
            self.sessions, self.settings, limit=data.batch_size, progress=activity.heartbeat
        )
        deleted = await delete_done_mails(self.sessions, self.settings)
        if run.sent or run.failed or deleted:
            activity.logger.info(
                "outbox", extra={"sent": run.sent, "failed": run.failed, "deleted": deleted}
            )
        return SendOutboxResult(
            sent=run.sent, failed=run.failed, more=run.more, email_enabled=run.enabled
        )
