"""Départements for the tests that open one: a real département (the ``territories`` table)
that has no administrator yet, so that a first administrator can be created there (which
hosts it). Never the demo's 73 and 74, nor ``NOT_HOSTED``, the known département the tests
keep unhosted."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import User
from parcours.territories.models import Territory

# Known, never hosted in the tests (hand-offs and CAF lines there are refused).
NOT_HOSTED = "38"


async def departement_without_admin(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        known = set(await session.scalars(select(Territory.code)))
        taken = set(await session.scalars(select(User.territory).where(User.role == "admin")))
    free = sorted(known - taken - {"73", "74", NOT_HOSTED})
    assert free, "every département already has an administrator in the test database"
    return random.choice(free)
