"""The tables of places: the départements (``territories``, with whether this platform hosts
them), their communes and the EPCI that group communes. Filled by migration ``0012`` from the
open data installed with the project (``parcours.territories.sources``), then read only — but
for ``territories.active``, which an administrator turns on when a département joins."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base


class Territory(Base):
    """A département: ``01``…``95``, ``2A``, ``2B``, ``971``…``976``."""

    __tablename__ = "territories"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Hosted on this platform: its people can be enrolled, its CAF lines are applied.
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Commune(Base):
    """A commune (or a municipal arrondissement of Paris, Lyon, Marseille) and where it stands:
    its town hall, else the middle of its outline."""

    __tablename__ = "communes"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)  # code INSEE
    name: Mapped[str] = mapped_column(String(100))
    departement: Mapped[str] = mapped_column(ForeignKey("territories.code"), index=True)
    postal_codes: Mapped[list[str]] = mapped_column(JSON)
    population: Mapped[int] = mapped_column(Integer, default=0)
    epci: Mapped[str | None] = mapped_column(String(9))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Communes it absorbed (communes déléguées, associées): addresses still carry their names.
    former_names: Mapped[list[str]] = mapped_column(JSON, default=list)


class Epci(Base):
    """An établissement public de coopération intercommunale (code SIREN) and its name."""

    __tablename__ = "epcis"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
