"""Searching the resource base: what a search asks (filters, a place, an order, a page) and
how it maps onto the search tables.

A thématique filter is a set of tags (see ``importer.service_tags``) looked up in their
index: it is selective. Publics and eligibility zones are broad (most services are open to
all, or to the whole département): they are tokens in the search row, checked as it is
scanned. Free text is a set of words, each matched as a prefix in the words index, every
word required, scored by the field it was found in (name > thématiques and type > the
rest). Distances are ordered in SQL by an equirectangular
approximation — plain arithmetic that SQLite and PostgreSQL both run, within 0.1 % of the
great-circle distance at a département's scale — and shown by haversine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from parcours.resources import geo
from parcours.resources.schemas import SortOrder
from parcours.resources.text import query_words
from parcours.resources.vocabulary import TOUS_PUBLICS

MAX_PAGE_SIZE = 50
MAX_RADIUS_KM = 200.0


@dataclass(frozen=True)
class Distance:
    """How SQL orders by distance from ``origin``: the squared distance in "latitude
    degrees", longitudes shrunk by the cosine of the origin's latitude."""

    origin: geo.Point
    radius_km: float | None = None

    @property
    def lon_scale(self) -> float:
        return math.cos(math.radians(self.origin.lat))

    @property
    def max_squared(self) -> float | None:
        if self.radius_km is None:
            return None
        return (self.radius_km / geo.KM_PER_DEGREE) ** 2

    def box(self) -> tuple[float, float, float, float] | None:
        if self.radius_km is None:
            return None
        return geo.bounding_box(self.origin, self.radius_km)

    def km(self, lat: float | None, lon: float | None) -> float | None:
        if lat is None or lon is None:
            return None
        return geo.haversine_km(self.origin, geo.Point(lat, lon))


def zone_filter(code: str, epci: str | None = None) -> list[str]:
    """The zone tokens of services open to the people of a commune (code INSEE, with its EPCI)
    or of a département: services of that place, of a wider place holding it, or without
    zone."""
    code = code.strip().upper()
    if len(code) == 5:
        return [geo.departement_of(code), "*", "france", code, *([epci] if epci else [])]
    return [code, f"in:{code}", "*", "france"]


@dataclass(frozen=True)
class ServiceQuery:
    text: str | None = None
    thematiques: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    publics: tuple[str, ...] = ()
    frais: tuple[str, ...] = ()
    # A commune (code INSEE) or département code: only services open to its people.
    zone: str | None = None
    # The EPCI of the commune ``zone`` (the service fills it in from the gazetteer).
    zone_epci: str | None = None
    distance: Distance | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    page: int = 1
    size: int = 20
    terms: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(query_words(self.text)))
        object.__setattr__(self, "size", max(1, min(self.size, MAX_PAGE_SIZE)))
        object.__setattr__(self, "page", max(1, self.page))
        if self.sort is SortOrder.DISTANCE and self.distance is None:
            object.__setattr__(self, "sort", SortOrder.RELEVANCE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def thematique_tags(self) -> list[str]:
        return [f"thematique:{t}" for t in self.thematiques]

    def public_tokens(self) -> list[str]:
        """A service is open to a public it names, to all (``tous-publics``), or to anyone
        when it names none."""
        return [*self.publics, TOUS_PUBLICS, "*"] if self.publics else []

    def zone_tokens(self) -> list[str]:
        return zone_filter(self.zone, self.zone_epci) if self.zone else []


@dataclass(frozen=True)
class TrainingQuery:
    text: str | None = None
    funders: tuple[str, ...] = ()
    formacode: str | None = None
    # Only sessions not yet finished (on this day), and with places left.
    upcoming_on: date | None = None
    with_places: bool = False
    include_inactive: bool = False
    distance: Distance | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    page: int = 1
    size: int = 20
    terms: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(query_words(self.text)))
        object.__setattr__(self, "size", max(1, min(self.size, MAX_PAGE_SIZE)))
        object.__setattr__(self, "page", max(1, self.page))
        if self.sort is SortOrder.DISTANCE and self.distance is None:
            object.__setattr__(self, "sort", SortOrder.RELEVANCE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def excerpt(text: str, length: int = 220) -> str:
    """The beginning of a description, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    return flat[:length].rsplit(" ", 1)[0] + " …"
