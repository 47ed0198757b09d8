"""The inbox's daily activity: items for the deadlines of the coming week, then each agent's
daily summary, written to the outbox (sent by ``DeliverOutbox``). One transaction per agent's
summary: a retry writes only what is not written yet."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.inbox.messages import RUN_INBOX_DAY, InboxDayInput, InboxDayResult
from parcours.inbox.service import PARIS, InboxProducer


class InboxActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.app_url = settings.public_app_url

    @activity.defn(name=RUN_INBOX_DAY)
    async def run_inbox_day(self, data: InboxDayInput) -> InboxDayResult:
        async with transaction(self.sessions) as session:
            due = await InboxProducer(session, self.app_url).due_soon(data.as_of)
        async with self.sessions() as session:
            recipients = await InboxProducer(session).repo.recipients_with_open_items()
        day = data.as_of.astimezone(PARIS).date()
        summaries = 0
        for recipient_id in recipients:
            async with transaction(self.sessions) as session:
                if await InboxProducer(session, self.app_url).daily_summary(recipient_id, day):
                    summaries += 1
            activity.heartbeat()
        activity.logger.info("inbox day", extra={"due_soon": due, "summaries": summaries})
        return InboxDayResult(due_soon=due, summaries=summaries)
