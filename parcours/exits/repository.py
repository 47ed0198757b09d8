"""The exits' SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.exits.models import ExitCode


class ExitCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, territory: str) -> Sequence[ExitCode]:
        rows = await self.session.scalars(
            select(ExitCode)
            .where(ExitCode.territory == territory)
            .order_by(ExitCode.position, ExitCode.code)
        )
        return rows.all()

    async def get(self, territory: str, code: str) -> ExitCode | None:
        return await self.session.get(ExitCode, (territory, code))

    def add(self, row: ExitCode) -> None:
        self.session.add(row)
