"""Places: the Savoie communes (code INSEE, postal codes, approximate coordinates), turning a
person's postal code and city into a point, and distances.

The communes come from ``communes_73.json`` (see its ``_source``: the coordinates are
approximate town centres, good enough to sort services by distance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from parcours.resources.text import normalise

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180

_DATA = Path(__file__).with_name("communes_73.json")


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    postal_codes: tuple[str, ...]
    epci: str | None
    population: int
    lat: float
    lon: float
    precise: bool
    former_names: tuple[str, ...] = ()

    @property
    def departement(self) -> str:
        return department_of(self.code)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.postal_codes[0]})" if self.postal_codes else self.name


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def department_of(code_insee: str) -> str:
    """The département of a commune code (three digits overseas, 2A/2B in Corsica)."""
    return code_insee[:3] if code_insee.startswith("97") else code_insee[:2]


@cache
def communes() -> dict[str, Commune]:
    """The communes by code INSEE, most populous first."""
    data = json.loads(_DATA.read_text(encoding="utf-8"))
    rows = sorted(data["communes"], key=lambda c: -c["population"])
    return {
        c["code"]: Commune(
            code=c["code"],
            name=c["nom"],
            postal_codes=tuple(c["codes_postaux"]),
            epci=c.get("epci"),
            population=c["population"],
            lat=c["lat"],
            lon=c["lon"],
            precise=c["precision"] == "commune",
            former_names=tuple(c.get("anciens_noms", ())),
        )
        for c in rows
    }


@cache
def _by_name() -> dict[str, list[Commune]]:
    index: dict[str, list[Commune]] = {}
    for c in communes().values():
        for name in (c.name, *c.former_names):
            index.setdefault(normalise(name), []).append(c)
    return index


def commune(code: str | None) -> Commune | None:
    return communes().get(code or "")


def locate(postal_code: str | None, city: str | None) -> Commune | None:
    """The commune of an address known by its postal code and city (either may be missing,
    misspelt or a former commune's name); ``None`` outside the table."""
    name = normalise(city).replace(" ", "") if city else ""
    named = [c for key, found in _by_name().items() if key.replace(" ", "") == name for c in found]
    if postal_code:
        in_code = [c for c in communes().values() if postal_code in c.postal_codes]
        for c in named:
            if c in in_code:
                return c
        if in_code:
            return in_code[0]  # the most populous commune of that postal code
    return named[0] if named else None


def search_communes(text: str, limit: int = 10) -> list[Commune]:
    """Communes whose name or postal code starts with ``text`` (for pickers)."""
    wanted = normalise(text)
    if not wanted:
        return []
    found = [
        c
        for c in communes().values()
        if any(p.startswith(wanted) for p in c.postal_codes)
        or normalise(c.name).startswith(wanted)
        or any(normalise(n).startswith(wanted) for n in c.former_names)
    ]
    return found[:limit]


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


@cache
def epci_names() -> dict[str, str]:
    names: dict[str, str] = json.loads(_DATA.read_text(encoding="utf-8"))["epci"]
    return names


DEPARTEMENT_NAMES = {"73": "Savoie", "74": "Haute-Savoie", "38": "Isère", "01": "Ain"}


def zone_label(code: str) -> str:
    """A code of ``zone_eligibilite`` in words."""
    if code in ("france", "99100"):
        return "France entière"
    if len(code) == 5 and (c := commune(code)):
        return c.label
    if len(code) == 9 and code in epci_names():
        return epci_names()[code]
    if len(code) <= 3:
        name = DEPARTEMENT_NAMES.get(code)
        return f"{name} ({code})" if name else f"Département {code}"
    return code


@cache
def _epci_departements() -> dict[str, str]:
    return {c.epci: c.departement for c in communes().values() if c.epci}


def epci_departement(code: str) -> str | None:
    """The département of an EPCI of the table (``None`` for others)."""
    return _epci_departements().get(code)
