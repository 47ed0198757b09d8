"""A unit of work interrupted in the middle of a statement — an activity cancelled by the
engine, a request its caller abandoned — leaves nothing behind: its change is not kept, and
the next writer goes through at once instead of finding the database locked.

On SQLite the interrupted connection used to stay half-open, holding the write lock until the
garbage collector ran: on a slow CI machine, every later write of the session failed with
« database is locked »."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.core.db import transaction

# A statement that runs for a few seconds, so that the cancellation lands in its middle.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000)"
    " SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(5)",
}


async def test_a_unit_of_work_cancelled_mid_statement_leaves_the_database_writable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        structure = Structure(name="CCAS de Chambéry", kind="ccas", territory="73")
        session.add(structure)

    in_statement = asyncio.Event()

    async def interrupted() -> None:
        async with transaction(sessions) as session:
            await session.execute(
                update(Structure).where(Structure.id == structure.id).values(name="interrompu")
            )
            in_statement.set()
            await session.execute(text(SLOW[session.get_bind().dialect.name]))

    work = asyncio.create_task(interrupted())
    await asyncio.wait_for(in_statement.wait(), timeout=30)
    await asyncio.sleep(0.5)  # the slow statement has started
    work.cancel()
    (outcome,) = await asyncio.gather(work, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)

    # The next writer changes the same row; the cancelled task is still referenced here, as
    # an activity's or a request's is by whoever ran it.
    async with transaction(sessions) as session:
        await session.execute(
            update(Structure).where(Structure.id == structure.id).values(name="repris")
        )
    async with sessions() as session:
        name = await session.scalar(select(Structure.name).where(Structure.id == structure.id))
    assert name == "repris"
    assert work.cancelled()
