"""On SQLite each statement goes to the connection's thread in one trip (a read of a journey
made 29 such trips, a quarter of its CPU), and comes back with everything SQLite said: the
rows, how many rows changed, and its errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.core.db import transaction
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(POSTGRES, reason="how the app talks to SQLite")


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every call handed to a SQLite connection's thread, while the test runs."""
    calls: list[Any] = []
    handing = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await handing(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield calls


async def test_each_statement_is_one_trip_to_sqlite(
    sessions: async_sessionmaker[AsyncSession], trips: list[Any]
) -> None:
    async with transaction(sessions) as session:
        await session.execute(select(Structure.id).limit(1))  # the connection is ready
        trips.clear()
        for _ in range(5):
            await session.execute(select(Structure).limit(3))
        assert len(trips) == 5
    # Then the commit, and the rollback with which the pool takes the connection back.
    assert len(trips) == 7


async def test_what_sqlite_answers_comes_back_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    names = [f"CCAS {uuid.uuid4().hex[:8]}" for _ in range(3)]
    async with transaction(sessions) as session:
        # Several rows in one statement (``executemany``).
        await session.execute(
            insert(Structure),
            [
                {"id": str(uuid.uuid4()), "name": n, "kind": "ccas", "territory": "73"}
                for n in names
            ],
        )
        changed = await session.execute(
            update(Structure).where(Structure.name.in_(names)).values(kind="association")
        )
        assert changed.rowcount == 3  # type: ignore[attr-defined]
        rows = await session.execute(
            select(Structure.name, Structure.kind).where(Structure.name.in_(names))
        )
        assert list(rows.keys()) == ["name", "kind"]
        assert sorted(rows.all()) == [(n, "association") for n in sorted(names)]
        nothing = await session.execute(select(Structure).where(Structure.name == "absente"))
        assert nothing.first() is None

    # An error SQLite raises in its thread reaches the caller as itself, and nothing of the
    # failed unit of work is kept.
    existing = await _id_of(sessions, names[0])
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            await session.execute(
                update(Structure).where(Structure.id == existing).values(kind="ccas")
            )
            await session.execute(
                insert(Structure),
                {"id": existing, "name": "doublon", "kind": "ccas", "territory": "73"},
            )
    async with sessions() as session:
        kind = await session.scalar(select(Structure.kind).where(Structure.id == existing))
    assert kind == "association"


async def _id_of(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    async with sessions() as session:
        found = await session.scalar(select(Structure.id).where(Structure.name == name))
    assert found is not None
    return found
