"""Keeps the indicators' closed months of every département before a manager reads them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.heartbeat import heartbeating
from parcours.core.settings import Settings
from parcours.indicators.messages import (
    KEEP_CLOSED_MONTHS,
    KeepClosedMonthsInput,
    KeepClosedMonthsResult,
)
from parcours.indicators.service import keep_closed_months


class IndicatorActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings

    @activity.defn(name=KEEP_CLOSED_MONTHS)
    async def keep_closed_months(self, data: KeepClosedMonthsInput) -> KeepClosedMonthsResult:
        """Each département in its own transaction: run again, it finds the months kept."""
        async with heartbeating(10):
            territories = await keep_closed_months(self.sessions, self.settings, data.months)
        activity.logger.info("closed months kept", extra={"territories": len(territories)})
        return KeepClosedMonthsResult(territories=len(territories))
