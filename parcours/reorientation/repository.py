"""The SQL of reorientation requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.reorientation.models import ReorientationRequest


class ReorientationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: ReorientationRequest) -> None:
        self.session.add(row)

    async def get(self, request_id: str) -> ReorientationRequest | None:
        return await self.session.get(ReorientationRequest, request_id)

    async def for_journey(self, journey_id: str) -> Sequence[ReorientationRequest]:
        rows = await self.session.scalars(
            select(ReorientationRequest)
            .where(ReorientationRequest.journey_id == journey_id)
            .order_by(ReorientationRequest.requested_at.desc())
        )
        return rows.all()
