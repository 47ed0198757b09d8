"""The exits' SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.exits.models import ExitCode

# Built once: every indicators read and every closing reads the département's list.
_CODES_OF = (
    select(ExitCode)
    .where(ExitCode.territory == bindparam("territory"))
    .order_by(ExitCode.position, ExitCode.code)
)


class ExitCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, territory: str) -> Sequence[ExitCode]:
        rows = await self.session.scalars(_CODES_OF, {"territory": territory})
        return rows.all()

    async def get(self, territory: str, code: str) -> ExitCode | None:
        return await self.session.get(ExitCode, (territory, code))

    def add(self, row: ExitCode) -> None:
        self.session.add(row)
