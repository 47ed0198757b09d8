"""The SMS outbox's activity: send one batch of the SMS due now (``parcours.sms.service``).
Safe to retry: each SMS is claimed before the provider's call and recorded after, and the call
carries the SMS's idempotency key, so a retry sends only what is still due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from parcours.core.db import utcnow
from parcours.core.settings import Settings
from parcours.partners.adapters.sms import SmsAdapter, sms_enabled
from parcours.sms.messages import SEND_DUE_SMS, SendDueSmsInput, SendDueSmsResult
from parcours.sms.service import send_due_sms


class SmsActivities:
    """Built once by the worker. The provider's adapter (one connection pool, kept for the
    worker's life) is made at the first run that has a provider configured, unless given."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        adapter: SmsAdapter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the time the quiet hours and the due dates are read against (tests)."""
        self.sessions = sessions
        self.settings = settings
        self.adapter = adapter
        self.clock = clock

    async def aclose(self) -> None:
        if self.adapter is not None:
            await self.adapter.aclose()

    @activity.defn(name=SEND_DUE_SMS)
    async def send_due_sms(self, data: SendDueSmsInput) -> SendDueSmsResult:
        if self.adapter is None and sms_enabled(self.settings):
            self.adapter = SmsAdapter.from_settings(self.settings)
        run = await send_due_sms(
            self.sessions,
            self.settings,
            self.adapter,
            limit=data.batch_size,
            now=self.clock,
            progress=activity.heartbeat,
        )
        if run.sent or run.retried or run.refused:
            activity.logger.info(
                "sms outbox",
                extra={"sent": run.sent, "retried": run.retried, "refused": run.refused},
            )
        return SendDueSmsResult(
            sent=run.sent,
            retried=run.retried,
            refused=run.refused,
            more=run.more,
            sms_enabled=run.enabled,
        )
