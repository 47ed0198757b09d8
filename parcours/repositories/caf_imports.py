"""SQL of the CAF imports' page: the feed files received, newest first."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.partners.models import CafFeedFile


class CafImportListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def file_ids(self, limit: int, offset: int = 0) -> list[str]:
        rows = await self.session.scalars(
            select(CafFeedFile.id)
            .order_by(CafFeedFile.uploaded_at.desc(), CafFeedFile.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows)

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(CafFeedFile)) or 0)
