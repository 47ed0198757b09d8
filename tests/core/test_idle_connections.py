"""On PostgreSQL, a connection the database dropped while it sat in the pool (a restart, a
failover) never reaches a request: it is checked before it serves, and another one opened.
A connection back from a unit of work a moment ago is used at once, without that check: if
the database dropped it in that moment, one unit of work fails (a request answers the French
503) and the pool opens new connections for the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
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


async def _drop(settings: Settings, pid: int) -> None:
    """The database ends the backend ``pid``, as a restart ends them all; returns once it has."""
    other = db.create_engine(settings.database_url, pool_size=1)
    try:
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # The backends' list is read once per transaction unless its snapshot is cleared.
            fresh = text("SELECT pg_stat_clear_snapshot()")
            there = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while True:
                await connection.execute(fresh)
                if not await connection.scalar(there, {"pid": pid}):
                    break
                await asyncio.sleep(0.01)
    finally:
        await other.dispose()


async def test_a_connection_dropped_while_idle_is_replaced_before_it_serves(
    engine: AsyncEngine, settings: Settings
) -> None:
    dropped = await _backend(engine)
    await _drop(settings, dropped)
    await asyncio.sleep(IDLE_S * 2)

    assert await _backend(engine) != dropped


async def test_a_connection_dropped_just_after_its_use_fails_once_then_is_replaced(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "CHECK_IDLE_AFTER_S", 60)  # never idle long enough to be checked
    dropped = await _backend(engine)
    await _drop(settings, dropped)

    with pytest.raises(DBAPIError) as failed:
        await _backend(engine)
    assert failed.value.connection_invalidated
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
