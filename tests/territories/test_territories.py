"""Territories as data: every département and commune of France is known, with where its town
hall stands (from the open data installed with the project), the Savoie and the Haute-Savoie
are hosted, and an administrator opens another département."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.territories import run_activate, run_list
from parcours.access.rules import Principal, Role
from parcours.core.db import transaction
from parcours.core.errors import Forbidden, InvalidReference
from parcours.core.settings import Settings
from parcours.resources import geo
from parcours.territories.models import Commune, Territory
from parcours.territories.rules import departement_code, departement_of
from parcours.territories.service import TerritoryService
from tests.support.territories import NOT_HOSTED

pytestmark = pytest.mark.onboarding
Sessions = async_sessionmaker[AsyncSession]

# (code INSEE, name, département, a postal code, roughly where: latitude, longitude)
TOWN_HALLS = [
    ("73065", "Chambéry", "73", "73000", 45.57, 5.92),
    ("74010", "Annecy", "74", "74000", 45.90, 6.12),
    ("75056", "Paris", "75", "75001", 48.86, 2.35),
    ("75101", "Paris 1er Arrondissement", "75", "75001", 48.86, 2.34),
    ("13055", "Marseille", "13", "13001", 43.30, 5.37),
    ("2A004", "Ajaccio", "2A", "20000", 41.92, 8.74),
    ("29019", "Brest", "29", "29200", 48.39, -4.49),
    ("97411", "Saint-Denis", "974", "97400", -20.88, 55.45),
    ("97611", "Mamoudzou", "976", "97600", -12.78, 45.23),
]


async def test_every_departement_is_known_and_the_demo_ones_are_hosted(
    sessions: Sessions,
) -> None:
    async with sessions() as session:
        territories = {t.code: t for t in await session.scalars(select(Territory))}
        with_communes = set(await session.scalars(select(Commune.departement).distinct()))
        communes = await session.scalar(select(func.count()).select_from(Commune))
    expected = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
    expected |= {"971", "972", "973", "974", "976"}
    assert set(territories) == expected == with_communes
    assert (territories["73"].name, territories["74"].name) == ("Savoie", "Haute-Savoie")
    assert territories["73"].active and territories["74"].active
    assert not territories["38"].active
    assert communes is not None and communes > 34_000


async def test_communes_of_several_departements_are_known_with_their_town_hall(
    sessions: Sessions,
) -> None:
    async with sessions() as session:
        places = await geo.gazetteer(session)
        rows = {
            c.code: c
            for c in await session.scalars(
                select(Commune).where(Commune.code.in_([t[0] for t in TOWN_HALLS]))
            )
        }
    for code, name, departement, postal_code, lat, lon in TOWN_HALLS:
        row = rows[code]
        assert (row.name, row.departement) == (name, departement)
        assert postal_code in row.postal_codes
        assert row.latitude is not None and row.longitude is not None
        assert abs(row.latitude - lat) < 0.05 and abs(row.longitude - lon) < 0.05, code
        found = places.commune(code)
        assert found is not None and (found.lat, found.lon) == (row.latitude, row.longitude)
    # Found by postal code and name too, former communes' names included.
    assert places.find("Annecy-le-Vieux") == places.commune("74010")
    assert places.locate("74000", "annecy") == places.commune("74010")
    assert places.locate("20000", None) == places.commune("2A004")
    assert places.zone_label("2A") == "Corse-du-Sud (2A)"
    chambery, annecy = places.commune("73065"), places.commune("74010")
    assert chambery is not None and annecy is not None
    km = geo.haversine_km(geo.Point(chambery.lat, chambery.lon), geo.Point(annecy.lat, annecy.lon))
    assert 38 < km < 42


async def test_an_administrator_hosts_another_departement(
    sessions: Sessions, settings: Settings
) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert await run_activate(settings, "2b", out=out, err=err) == 0
    assert out.getvalue() == "Département Haute-Corse (2B) accueilli sur la plateforme.\n"
    listed = io.StringIO()
    await run_list(settings, out=listed)
    assert {"Savoie (73)", "Haute-Savoie (74)", "Haute-Corse (2B)"} <= set(
        listed.getvalue().splitlines()
    )

    assert await run_activate(settings, "99", out=out, err=err) == 1
    assert err.getvalue() == "Département « 99 » inconnu.\n"

    manager = Principal(id="m", role=Role.MANAGER, full_name="M", territory="73")
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden, match="Seuls les administrateurs"):
            await TerritoryService(session, manager).activate(NOT_HOSTED)
        with pytest.raises(InvalidReference, match=r"Le département 38 \(Isère\) n'est pas"):
            await TerritoryService(session).ensure_hosted(NOT_HOSTED)
        hosted = await TerritoryService(session).ensure_hosted("2B")
    assert hosted.label == "Haute-Corse (2B)"


def test_departement_codes_as_files_write_them() -> None:
    assert [departement_code(c) for c in ("73", " 7 ", "2a", "073", "02B", "974")] == [
        "73",
        "07",
        "2A",
        "73",
        "2B",
        "974",
    ]
    assert departement_of("2A004") == "2A" and departement_of("97411") == "974"
