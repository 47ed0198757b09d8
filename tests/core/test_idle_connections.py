"""On PostgreSQL, a connection the database dropped while it sat in the pool (a restart, a
failover) never reaches a request: it is checked before it serves, and another one opened.
A connection back from a unit of work a moment ago is used at once, without that check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.core import db
from parcours.core.settings import Settings
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL's connections")

IDLE_S = 0.2


@pytest.fixture
async def engine(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    monkeypatch.setattr(db, "CHECK_IDLE_AFTER_S", IDLE_S)
    engine = db.create_engine(settings.database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def test_a_connection_dropped_while_idle_is_replaced_before_it_serves(
    engine: AsyncEngine, settings: Settings
) -> None:
    dropped = await _backend(engine)
    other = db.create_engine(settings.database_url, pool_size=1)
    try:
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        await other.dispose()
    await asyncio.sleep(IDLE_S * 2)

    assert await _backend(engine) != dropped


async def test_a_connection_back_a_moment_ago_is_not_checked_again(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[Any] = []
    ping = engine.sync_engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.sync_engine.dialect, "do_ping", counted)
    first = await _backend(engine)  # a new connection: not checked either
    assert await _backend(engine) == first
    assert await _backend(engine) == first
    assert pings == []

    await asyncio.sleep(IDLE_S * 2)
    assert await _backend(engine) == first
    assert len(pings) == 1
