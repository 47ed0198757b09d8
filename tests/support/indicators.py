"""What the indicators' tests share."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.carnet.models import Beneficiary
from parcours.indicators.models import JourneyMilestones
from parcours.indicators.repository import IndicatorScope


def year_scope(territory: str, year: int, structure_id: str | None = None) -> IndicatorScope:
    """A year of ``territory`` (or of one of its structures), read long after it ended."""
    return IndicatorScope(
        territory=territory,
        start=date(year, 1, 1),
        end=date(year + 1, 1, 1),
        today=date(year + 1, 12, 5),
        structure_id=structure_id,
    )


async def person_with_milestones(
    session: AsyncSession,
    territory: str,
    structure_id: str,
    name: str,
    *,
    seq: int,
    **milestones: Any,
) -> str:
    """A person of ``territory`` followed by ``structure_id``, her journey's milestones (as
    the projection writes them, up to event ``seq``) as given: her id."""
    person = Beneficiary(
        first_name=name, last_name="Test", birth_date=date(1990, 1, 1), territory=territory
    )
    session.add(person)
    await session.flush()
    session.add(
        JourneyMilestones(
            journey_id=person.id,
            beneficiary_id=person.id,
            territory=territory,
            structure_id=structure_id,
            reference_on=date(2025, 2, 1),
            seq=seq,
            **milestones,
        )
    )
    return person.id
