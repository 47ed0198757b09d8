"""The SQL of reorientation requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
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

    async def for_person(self, beneficiary_id: str) -> Sequence[ReorientationRequest]:
        rows = await self.session.scalars(
            select(ReorientationRequest)
            .where(ReorientationRequest.beneficiary_id == beneficiary_id)
            .order_by(ReorientationRequest.requested_at)
        )
        return rows.all()

    async def erase_personal_rows(self, beneficiary_id: str) -> None:
        """RGPD: what the person and the professionals wrote about her goes; the requests
        keep their ids, dates, codes and decisions."""
        await self.session.execute(
            update(ReorientationRequest)
            .where(ReorientationRequest.beneficiary_id == beneficiary_id)
            .values(reason_text=None, decision_text=None)
        )
