"""The journeys of these tests, started as the platform starts them on the time-skipping
server (the journey tests' fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.core.settings import Settings
from tests.support.accounts import Staff
from tests.support.journeys import Journeys, ended_after


@pytest.fixture
async def journeys(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    async with ended_after(time_env, sessions, settings, staff) as journeys:
        yield journeys
