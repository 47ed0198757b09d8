"""What the indicators' tests share."""

from __future__ import annotations

from datetime import date

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
