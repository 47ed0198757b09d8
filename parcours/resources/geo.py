"""Places for the resource base: every commune of France (code INSEE, postal codes, where its
town hall stands), turning a person's postal code and city into a point, and distances.

The communes are the ``communes`` table's (``parcours.territories``), read once per process
into a ``Gazetteer`` — 35,000 rows, a fraction of a second — then looked up in memory: a search
by distance never waits on SQL for its origin. ``await gazetteer(session)`` gives it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.resources.text import normalise
from parcours.territories.repository import TerritoryRepository
from parcours.territories.rules import departement_of

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180

__all__ = ["Commune", "Gazetteer", "Point", "departement_of", "gazetteer"]


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    departement: str
    postal_codes: tuple[str, ...]
    epci: str | None
    population: int
    lat: float
    lon: float
    former_names: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.postal_codes[0]})" if self.postal_codes else self.name


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def _key(name: str) -> str:
    return normalise(name).replace(" ", "")


class Gazetteer:
    """The communes, indexed by code, postal code and name (most populous first)."""

    def __init__(
        self,
        communes: Iterable[Commune],
        epci_names: dict[str, str],
        departement_names: dict[str, str],
        unplaced: Iterable[str] = (),
    ) -> None:
        self.communes = {c.code: c for c in sorted(communes, key=lambda c: -c.population)}
        # Communes known without coordinates (a handful): valid codes, never an origin.
        self.unplaced = frozenset(unplaced)
        self.epci_names = epci_names
        self.departement_names = departement_names
        self._by_postal_code: dict[str, list[Commune]] = {}
        self._by_name: dict[str, list[Commune]] = {}
        self._epci_departements: dict[str, str] = {}
        for c in self.communes.values():
            for postal_code in c.postal_codes:
                self._by_postal_code.setdefault(postal_code, []).append(c)
            for name in dict.fromkeys(_key(n) for n in (c.name, *c.former_names)):
                self._by_name.setdefault(name, []).append(c)
            if c.epci:
                self._epci_departements.setdefault(c.epci, c.departement)

    @classmethod
    def from_rows(
        cls, rows: Iterable[Any], epci_names: dict[str, str], departement_names: dict[str, str]
    ) -> Gazetteer:
        """From the table's rows; a commune without coordinates is only known by its code."""
        rows = list(rows)
        return cls(
            (
                Commune(
                    code=r.code,
                    name=r.name,
                    departement=r.departement,
                    postal_codes=tuple(r.postal_codes),
                    epci=r.epci,
                    population=r.population,
                    lat=r.latitude,
                    lon=r.longitude,
                    former_names=tuple(r.former_names or ()),
                )
                for r in rows
                if r.latitude is not None and r.longitude is not None
            ),
            epci_names,
            departement_names,
            unplaced=(r.code for r in rows if r.latitude is None or r.longitude is None),
        )

    def knows(self, code: str) -> bool:
        """Whether ``code`` is a commune's code INSEE."""
        code = code.strip().upper()
        return code in self.communes or code in self.unplaced

    def commune(self, code: str | None) -> Commune | None:
        return self.communes.get((code or "").strip().upper())

    def in_departement(self, code: str) -> list[Commune]:
        """The communes of a département, most populous first."""
        return [c for c in self.communes.values() if c.departement == code]

    def locate(self, postal_code: str | None, city: str | None) -> Commune | None:
        """The commune of an address known by its postal code and city (either may be missing,
        misspelt or a former commune's name); ``None`` when nothing matches."""
        named = self._by_name.get(_key(city), []) if city else []
        if postal_code:
            in_code = self._by_postal_code.get(postal_code.strip(), [])
            for c in named:
                if c in in_code:
                    return c
            if in_code:
                return in_code[0]  # the most populous commune of that postal code
        return named[0] if named else None

    def find(self, text: str) -> Commune | None:
        """A commune given by its code INSEE, its postal code or its name."""
        text = text.strip()
        return self.commune(text) or self.locate(text if text.isdigit() else None, text)

    def departement_label(self, code: str) -> str:
        name = self.departement_names.get(code)
        return f"{name} ({code})" if name else f"Département {code}"

    def zone_label(self, code: str) -> str:
        """A code of ``zone_eligibilite`` in words."""
        if code in ("france", "99100"):
            return "France entière"
        if len(code) == 5 and (c := self.commune(code)):
            return c.label
        if len(code) == 9 and code in self.epci_names:
            return self.epci_names[code]
        if len(code) <= 3:
            return self.departement_label(code)
        return code

    def epci_departement(self, code: str) -> str | None:
        """The département of an EPCI (that of its first commune; ``None`` if unknown)."""
        return self._epci_departements.get(code)

    def is_departement(self, code: str) -> bool:
        return code in self.departement_names


# One gazetteer per database, read on first use (places change only with a migration; two
# requests arriving together before it is read may both read it, the last one is kept).
_loaded: dict[str, Gazetteer] = {}


async def gazetteer(session: AsyncSession) -> Gazetteer:
    """The communes of the session's database, read once per process."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    if (found := _loaded.get(key)) is None:
        rows, epcis, names = await TerritoryRepository(session).place_rows()
        found = _loaded[key] = await asyncio.to_thread(Gazetteer.from_rows, rows, epcis, names)
    return found


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(centre: Point, radius_km: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) enclosing every point within ``radius_km`` of ``centre``."""
    dlat = radius_km / KM_PER_DEGREE
    dlon = radius_km / (KM_PER_DEGREE * max(0.01, math.cos(math.radians(centre.lat))))
    return centre.lat - dlat, centre.lat + dlat, centre.lon - dlon, centre.lon + dlon
