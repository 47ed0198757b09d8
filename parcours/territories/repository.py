"""SQL of places: départements and whether they are hosted, communes, EPCI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.territories.models import Commune, Epci, Territory


class TerritoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Territory | None:
        return await self.session.get(Territory, code)

    async def all(self) -> Sequence[Territory]:
        return (await self.session.scalars(select(Territory).order_by(Territory.code))).all()

    async def by_codes(self, codes: Iterable[str]) -> dict[str, Territory]:
        wanted = set(codes)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(Territory).where(Territory.code.in_(wanted)))
        return {t.code: t for t in rows}

    async def commune(self, code: str) -> Commune | None:
        return await self.session.get(Commune, code)

    async def known_communes(self, codes: Iterable[str]) -> set[str]:
        """Those of ``codes`` that are communes."""
        wanted = set(codes)
        if not wanted:
            return set()
        return set(await self.session.scalars(select(Commune.code).where(Commune.code.in_(wanted))))

    async def place_rows(self) -> tuple[list[Any], dict[str, str], dict[str, str]]:
        """Every commune (columns only: 35,000 rows), the EPCI names and the départements'
        names, for the in-memory gazetteer."""
        communes = (
            await self.session.execute(
                select(
                    Commune.code,
                    Commune.name,
                    Commune.departement,
                    Commune.postal_codes,
                    Commune.epci,
                    Commune.population,
                    Commune.latitude,
                    Commune.longitude,
                    Commune.former_names,
                )
            )
        ).all()
        epcis = {
            code: name for code, name in await self.session.execute(select(Epci.code, Epci.name))
        }
        names = {
            code: name
            for code, name in await self.session.execute(select(Territory.code, Territory.name))
        }
        return list(communes), epcis, names
