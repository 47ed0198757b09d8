"""The resource base: imports of data·inclusion files and trainings (each rejected row with
its French reason, the rest imported, re-imports in place), the référents' search (filters,
free text without accents or capitals, eligibility zones, distance, pages), the 15-hours rule,
and the API and pages through HTTP.

Each test tags its services with a word of its own and searches with it, so that tests sharing
the database never see each other's services."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any, cast

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from api.pages import resources as pages_resources
from api.routes import resources as resources_routes
from cli.resources import run_import
from demo.resources import savoie_base, trainings_csv
from parcours.access.rules import Principal, Role
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction, utcnow
from parcours.core.errors import Forbidden
from parcours.core.settings import Settings
from parcours.journey.models import JourneyRecord
from parcours.resources import geo
from parcours.resources.importer import parse_file
from parcours.resources.models import ResourceService, ResourceServiceWord, Training
from parcours.resources.rules import PlannedActivity, weekly_hours
from parcours.resources.schemas import ImportReport, SortOrder
from parcours.resources.search import Distance, ServiceQuery, TrainingQuery
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import THEMATIQUE_LABELS
from tests.support.accounts import Staff
from tests.support.clients import signed_in
from tests.support.servers import free_port, server_config

Sessions = async_sessionmaker[AsyncSession]
TODAY = date.today()
CHAMBERY, AIX, ALBERTVILLE = "73065", "73008", "73011"


# The communes the helpers below use, from the ``communes`` table (filled by ``places``).
PLACES: dict[str, geo.Commune] = {}


@pytest.fixture(autouse=True)
async def places(sessions: Sessions) -> geo.Gazetteer:
    async with sessions() as session:
        found = await geo.gazetteer(session)
    if not PLACES:
        PLACES.update(found.communes)
    return found


def tag() -> str:
    """A word no other test's services hold (letters only: words are searched by prefix)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def service(word: str, n: int, **fields: Any) -> dict[str, Any]:
    """A valid data·inclusion v1 service whose description carries ``word``."""
    commune = PLACES[fields.pop("code_insee", CHAMBERY)]
    data: dict[str, Any] = {
        "source": f"test-{word}",
        "structure_id": f"test-{word}--structure",
        "id": f"test-{word}--{n}",
        "nom": f"Service {n}",
        "description": f"Un service de test {word} pour les personnes accompagnées.",
        "date_maj": (TODAY - timedelta(days=10)).isoformat(),
        "code_insee": commune.code,
        "code_postal": commune.postal_codes[0],
        "commune": commune.name,
        "latitude": commune.lat,
        "longitude": commune.lon,
    }
    data.update(fields)
    return data


# A list cell as pandas writes it (data·inclusion's CSV files).
THEMES_AS_PANDAS_WRITES_THEM = (
    "['numerique--maitriser-les-fondamentaux-du-numerique', 'remobilisation--lien-social']"
)


def as_json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, ensure_ascii=False).encode()


async def import_files(sessions: Sessions, *files: tuple[str, bytes]) -> ImportReport:
    async with transaction(sessions) as session:
        return await ResourceBaseService(session).import_files(list(files))


async def search(sessions: Sessions, **query: Any) -> tuple[list[str], int, list[Any]]:
    """Names found, total, and the items."""
    async with transaction(sessions) as session:
        page = await ResourceBaseService(session).search_services(ServiceQuery(**query), None)
    return [i.nom for i in page.items], page.total, page.items


def near(code: str, radius_km: float | None = None) -> Distance:
    commune = PLACES[code]
    return Distance(geo.Point(commune.lat, commune.lon), radius_km)


# --- Imports ---


async def test_import_reports_each_rejected_row_in_french_and_imports_the_rest(
    sessions: Sessions,
) -> None:
    word = tag()
    rows = [
        service(word, 1, thematiques=["mobilite--preparer-un-permis"]),
        service(word, 2, nom=None),
        service(word, 3, thematiques=["mobilite--voler-en-parapente"]),
        service(word, 4, date_maj=(TODAY + timedelta(days=30)).isoformat()),
        service(word, 5, code_postal="7300"),
        service(word, 6, courriel="pas-une-adresse"),
        service(word, 1, nom="Doublon du premier"),
        service(word, 7, frais="gratuit", publics=["jeunes", "tous-publics"]),
        service(word, 8, publics=["jeunes"], volume_horaire_hebdomadaire=6),
    ]
    report = await import_files(sessions, ("services.json", as_json(rows)))

    (file,) = report.files
    assert (file.kind, file.unit, file.rows, file.created, file.updated) == (
        "services",
        "élément",
        9,
        2,
        0,
    )
    reasons = {r.row: r.reason for r in file.rejected}
    assert reasons[2] == "nom : champ obligatoire manquant."
    assert reasons[3].startswith("thematiques : valeur « mobilite--voler-en-parapente » absente")
    assert "ne peut pas être dans le futur" in reasons[4]
    assert reasons[5].startswith("code_postal : ")
    assert reasons[6].startswith("courriel : adresse électronique invalide")
    assert "déjà présent plus haut dans le fichier (élément 1)" in reasons[7]
    assert "tous-publics" in reasons[8]
    assert {r.id for r in file.rejected if r.row != 2} >= {f"test-{word}--3", f"test-{word}--4"}

    names, total, _ = await search(sessions, text=word)
    assert (sorted(names), total) == (["Service 1", "Service 8"], 2)


async def test_csv_files_as_data_inclusion_publishes_them(sessions: Sessions) -> None:
    word = tag()
    structures = io.StringIO()
    writer = csv.writer(structures)
    writer.writerow(["source", "id", "nom", "date_maj", "siret", "commune", "_di_extra"])
    writer.writerow(
        [
            f"test-{word}",
            f"test-{word}--structure",
            f"Mission locale {word}",
            TODAY.isoformat(),
            "",
            "Chambéry",
            "ignorée",
        ]
    )
    services = io.StringIO()
    writer = csv.writer(services)
    writer.writerow(
        [
            "source",
            "structure_id",
            "id",
            "nom",
            "description",
            "date_maj",
            "thematiques",
            "publics",
            "nombre_semaines",
            "zone_eligibilite",
            "code_insee",
            "latitude",
            "longitude",
        ]
    )
    writer.writerow(
        [
            f"test-{word}",
            f"test-{word}--structure",
            f"test-{word}--1",
            "Atelier numérique",
            "Premiers pas sur ordinateur.",
            TODAY.isoformat(),
            THEMES_AS_PANDAS_WRITES_THEM,
            '["jeunes"]',
            "3.0",
            "{73}",
            AIX,
            "",
            "",
        ]
    )
    writer.writerow(
        [
            f"test-{word}",
            f"test-{word}--structure",
            f"test-{word}--2",
            "Permis",
            "Auto-école sociale.",
            "2024-13-01",
            "mobilite",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )

    report = await import_files(
        sessions,
        ("services.csv", services.getvalue().encode()),
        ("structures.csv", structures.getvalue().encode()),
    )

    services_report, structures_report = report.files
    assert (structures_report.kind, structures_report.created) == ("structures", 1)
    assert (services_report.kind, services_report.unit, services_report.created) == (
        "services",
        "ligne",
        1,
    )
    (rejected,) = services_report.rejected
    assert rejected.row == 3
    assert "date_maj : date invalide" in rejected.reason
    assert "thematiques : valeur « mobilite » absente" in rejected.reason
    # The structure is imported first, so the service is found by its structure's name.
    _, _, items = await search(sessions, text=f"mission locale {word}")
    (found,) = items
    assert found.structure == f"Mission locale {word}"
    async with transaction(sessions) as session:
        stored = await session.get(ResourceService, found.id)
        assert stored is not None
        assert stored.thematiques == [
            "numerique--maitriser-les-fondamentaux-du-numerique",
            "remobilisation--lien-social",
        ]
        assert (stored.publics, stored.nombre_semaines, stored.zone_eligibilite) == (
            ["jeunes"],
            3,
            ["73"],
        )
        # No coordinates given: the commune's centre.
        aix = PLACES[AIX]
        assert (stored.latitude, stored.longitude) == (aix.lat, aix.lon)


async def test_unreadable_files_are_reported_and_the_others_imported(sessions: Sessions) -> None:
    word = tag()
    report = await import_files(
        sessions,
        ("vide.json", b"  "),
        ("casse.json", b"[{"),
        ("inconnu.csv", b"a;b\n1;2\n"),
        ("services.json", as_json([service(word, 1)])),
    )
    errors = [f.error for f in report.files]
    assert errors[0] == "Le fichier est vide."
    assert errors[1] is not None and errors[1].startswith("JSON illisible")
    assert errors[2] is not None and errors[2].startswith("Type de fichier inconnu")
    assert report.files[3].created == 1
    assert not report.ok


async def test_reimport_updates_in_place_without_duplicates(sessions: Sessions) -> None:
    word = tag()
    first = [
        service(word, n, nom=f"Ancien nom {n}", thematiques=["sante--addictions"]) for n in range(3)
    ]
    await import_files(sessions, ("services.json", as_json(first)))
    _, _, before = await search(sessions, text=word)

    second = [
        service(word, n, nom=f"Nouveau nom {n}", thematiques=["famille--garde-denfants"])
        for n in range(3)
    ] + [service(word, 3, nom="Nouveau nom 3")]
    report = await import_files(sessions, ("services.json", as_json(second)))

    assert (report.files[0].created, report.files[0].updated) == (1, 3)
    names, total, after = await search(sessions, text=word)
    assert total == 4
    assert sorted(names) == [f"Nouveau nom {n}" for n in range(4)]
    assert {i.id for i in before} <= {i.id for i in after}  # same rows, same ids
    assert (await search(sessions, text=f"{word} ancien"))[1] == 0
    assert (await search(sessions, text=word, thematiques=("sante",)))[1] == 0
    assert (await search(sessions, text=word, thematiques=("famille--garde-denfants",)))[1] == 3
    async with transaction(sessions) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ResourceService)
            .where(ResourceService.source == f"test-{word}")
        )
        stale_words = await session.scalar(
            select(func.count())
            .select_from(ResourceServiceWord)
            .where(
                ResourceServiceWord.word == "ancien",
                ResourceServiceWord.service_id.in_([i.id for i in after]),
            )
        )
    assert (count, stale_words) == (4, 0)


async def test_a_service_its_structure_published_twice_is_found_once(sessions: Sessions) -> None:
    """The same name at the same place, from the same structure, under two ids: one service
    in the results (the first imported). The same name elsewhere, or from another structure,
    is another service."""
    word = tag()
    here = {"adresse": "4 rue Sainte-Barbe"}
    rows = [
        service(word, 1, nom="Vestiaire solidaire", **here),
        service(word, 2, nom="Vestiaire  SOLIDAIRE", **here),  # the same, written otherwise
        service(word, 3, nom="Vestiaire solidaire", code_insee=AIX, **here),
        service(word, 4, nom="Vestiaire solidaire", structure_id=f"test-{word}--autre", **here),
    ]
    await import_files(sessions, ("services.json", as_json(rows)))
    async with sessions() as session:
        ids = dict(
            (
                await session.execute(
                    select(ResourceService.source_id, ResourceService.id).where(
                        ResourceService.source == f"test-{word}"
                    )
                )
            ).all()
        )
    _, total, items = await search(sessions, text=word)
    assert total == 3
    assert sorted(i.id for i in items) == sorted(ids[f"test-{word}--{n}"] for n in (1, 3, 4))
    # Page by page: the same three.
    pages = [await search(sessions, text=word, size=2, page=n) for n in (1, 2)]
    assert [(len(items), total) for _, total, items in pages] == [(2, 3), (1, 3)]

    # The first one renamed by a later import: the second is found again.
    await import_files(sessions, ("services.json", as_json([{**rows[0], "nom": "Friperie"}])))
    names, total, _ = await search(sessions, text=word)
    assert total == 4
    assert sorted(names) == ["Friperie", "Vestiaire  SOLIDAIRE", *["Vestiaire solidaire"] * 2]


# --- Search ---


async def test_search_by_thematique_type_public_fees_and_text(sessions: Sessions) -> None:
    word = tag()
    rows = [
        service(
            word,
            1,
            nom="Auto-école sociale",
            type="formation",
            frais="payant",
            thematiques=["mobilite--preparer-un-permis"],
            publics=["jeunes"],
        ),
        service(
            word,
            2,
            nom="Crèche AVIP",
            type="accompagnement",
            frais="gratuit",
            thematiques=["famille--garde-denfants"],
            publics=["tous-publics"],
            description=f"Garde et ÉDUCATION des enfants {word}.",
        ),
        service(
            word,
            3,
            nom="Garage solidaire",
            type="aide-materielle",
            frais="gratuit",
            thematiques=["mobilite--entretenir-reparer-son-vehicule"],
            publics=["beneficiaires-des-minimas-sociaux"],
        ),
        service(word, 4, nom="Vélos électriques", thematiques=["mobilite--financer-ma-mobilite"]),
    ]
    await import_files(sessions, ("services.json", as_json(rows)))

    async def names(**query: Any) -> list[str]:
        return sorted((await search(sessions, text=f"{word} {query.pop('q', '')}", **query))[0])

    assert await names(thematiques=("mobilite",)) == [
        "Auto-école sociale",
        "Garage solidaire",
        "Vélos électriques",
    ]
    assert await names(thematiques=("mobilite--preparer-un-permis", "famille--garde-denfants")) == [
        "Auto-école sociale",
        "Crèche AVIP",
    ]
    assert await names(types=("aide-materielle",)) == ["Garage solidaire"]
    assert await names(frais=("gratuit",)) == ["Crèche AVIP", "Garage solidaire"]
    # "Tous publics" and services that name no public are open to young people too.
    assert await names(publics=("jeunes",)) == [
        "Auto-école sociale",
        "Crèche AVIP",
        "Vélos électriques",
    ]
    # Accents and capitals do not matter; every word must be there, as a prefix.
    assert await names(q="education") == ["Crèche AVIP"]
    assert await names(q="Éducation ENFANT") == ["Crèche AVIP"]
    assert await names(q="auto ecole") == ["Auto-école sociale"]
    assert await names(q="GARAG") == ["Garage solidaire"]
    assert await names(q="velo") == ["Vélos électriques"]
    assert await names(q="garage crèche") == []
    # Thématique labels are searchable: « permis » is in « Préparer un permis ».
    assert await names(q="permis") == ["Auto-école sociale"]


async def test_relevance_puts_name_matches_first(sessions: Sessions) -> None:
    word = tag()
    rows = [
        service(word, 1, nom="Atelier budget", description=f"Pour {word}: un atelier."),
        service(word, 2, nom="Point conseil", description=f"Pour {word}: parler de budget."),
    ]
    await import_files(sessions, ("services.json", as_json(rows)))
    names, _, items = await search(sessions, text=f"{word} budget", sort=SortOrder.RELEVANCE)
    assert names == ["Atelier budget", "Point conseil"]
    assert items[0].score > items[1].score


async def test_search_by_eligibility_zone(sessions: Sessions) -> None:
    word = tag()
    grand_chambery = PLACES[CHAMBERY].epci
    rows = [
        service(word, 1, nom="Chambéry seulement", zone_eligibilite=[CHAMBERY]),
        service(word, 2, nom="Aix seulement", zone_eligibilite=[AIX]),
        service(word, 3, nom="Grand Chambéry", zone_eligibilite=[grand_chambery]),
        service(word, 4, nom="Savoie", zone_eligibilite=["73"]),
        service(word, 5, nom="Haute-Savoie", zone_eligibilite=["74"]),
        service(word, 6, nom="France", zone_eligibilite=["france"]),
        service(word, 7, nom="Sans zone"),
    ]
    await import_files(sessions, ("services.json", as_json(rows)))

    for_chambery = sorted((await search(sessions, text=word, zone=CHAMBERY))[0])
    assert for_chambery == ["Chambéry seulement", "France", "Grand Chambéry", "Sans zone", "Savoie"]
    for_aix = sorted((await search(sessions, text=word, zone=AIX))[0])
    assert for_aix == ["Aix seulement", "France", "Sans zone", "Savoie"]
    in_savoie = sorted((await search(sessions, text=word, zone="73"))[0])
    assert "Haute-Savoie" not in in_savoie and "Aix seulement" in in_savoie
    assert len(in_savoie) == 6


async def test_distance_sort_and_radius(sessions: Sessions) -> None:
    word = tag()
    rows = [
        service(word, 1, nom="À Albertville", code_insee=ALBERTVILLE),
        service(word, 2, nom="À Chambéry", code_insee=CHAMBERY),
        service(word, 3, nom="À Aix", code_insee=AIX),
        service(word, 4, nom="Sans adresse", latitude=None, longitude=None, code_insee=CHAMBERY),
    ]
    rows[3].pop("code_insee"), rows[3].pop("code_postal"), rows[3].pop("commune")
    await import_files(sessions, ("services.json", as_json(rows)))

    names, _, items = await search(
        sessions, text=word, distance=near(CHAMBERY), sort=SortOrder.DISTANCE
    )
    assert names == ["À Chambéry", "À Aix", "À Albertville", "Sans adresse"]
    distances = [i.distance_km for i in items]
    assert distances[0] == 0
    assert 10 < cast(float, distances[1]) < 16  # Chambéry – Aix-les-Bains, as the crow flies
    assert 30 < cast(float, distances[2]) < 45
    assert distances[3] is None

    within_20, total, _ = await search(
        sessions, text=word, distance=near(CHAMBERY, 20), sort=SortOrder.DISTANCE
    )
    assert (within_20, total) == (["À Chambéry", "À Aix"], 2)
    # Relevance first, then distance, when both are asked for.
    names, _, _ = await search(sessions, text=word, distance=near(AIX), sort=SortOrder.RELEVANCE)
    assert names[:2] == ["À Aix", "À Chambéry"]


async def test_pages(sessions: Sessions) -> None:
    word = tag()
    await import_files(
        sessions,
        (
            "services.json",
            as_json([service(word, n, nom=f"Service {n:02d}") for n in range(25)]),
        ),
    )
    pages = [await search(sessions, text=word, page=p, size=10) for p in (1, 2, 3, 4)]
    assert [len(names) for names, _, _ in pages] == [10, 10, 5, 0]
    assert {total for _, total, _ in pages} == {25}
    seen = [n for names, _, _ in pages for n in names]
    assert seen == [f"Service {n:02d}" for n in range(25)]  # by name, no overlap


# --- Trainings ---


def trainings_file(rows: list[dict[str, Any]]) -> bytes:
    columns = [
        "reference",
        "intitule",
        "organisme",
        "financeur",
        "formacode",
        "rncp",
        "date_debut",
        "date_fin",
        "places_restantes",
        "heures_hebdomadaires",
        "semaines",
        "code_postal",
        "commune",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=";")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def training_row(word: str, n: int, **fields: Any) -> dict[str, Any]:
    start = TODAY + timedelta(days=20)
    row = {
        "reference": f"{word}-{n}",
        "intitule": f"Titre professionnel cuisinier {word}",
        "organisme": "AFPA Chambéry",
        "financeur": "region",
        "formacode": "42752",
        "rncp": "34889",
        "date_debut": start.strftime("%d/%m/%Y"),
        "date_fin": (start + timedelta(weeks=20)).isoformat(),
        "places_restantes": "4",
        "heures_hebdomadaires": "35",
        "semaines": "20",
        "code_postal": "73000",
        "commune": "Chambéry",
    }
    row.update(fields)
    return row


async def test_trainings_import_search_and_reimport(sessions: Sessions) -> None:
    word = tag()
    rows = [
        training_row(word, 1),
        training_row(
            word,
            2,
            financeur="France Travail",
            commune="Albertville",
            code_postal="73200",
            places_restantes="0",
        ),
        training_row(word, 3, financeur="mairie"),
        training_row(word, 4, date_fin=(TODAY - timedelta(days=400)).isoformat()),
        training_row(word, 5, formacode="4275"),
        training_row(
            word,
            6,
            date_debut=(TODAY - timedelta(days=200)).isoformat(),
            date_fin=(TODAY - timedelta(days=10)).isoformat(),
        ),
    ]
    report = await import_files(sessions, ("formations.csv", trainings_file(rows)))
    (file,) = report.files
    assert (file.kind, file.created, file.updated) == ("trainings", 3, 0)
    reasons = {r.row: r.reason for r in file.rejected}
    assert set(reasons) == {4, 5, 6}
    assert reasons[4].startswith("financeur : valeur « mairie » absente des valeurs possibles")
    assert "la date de fin précède la date de début" in reasons[5]
    assert reasons[6].startswith("formacode : format invalide")

    async def titles(**query: Any) -> list[str]:
        async with transaction(sessions) as session:
            page = await ResourceBaseService(session).search_trainings(
                TrainingQuery(text=word, upcoming_on=TODAY, **query), None
            )
        return [t.reference for t in page.items]

    assert await titles() == [f"{word}-1", f"{word}-2"]  # the finished one is left out
    assert await titles(funders=("france_travail",)) == [f"{word}-2"]
    assert await titles(with_places=True) == [f"{word}-1"]
    assert await titles(distance=near(ALBERTVILLE, 10)) == [f"{word}-2"]

    rows[0]["places_restantes"] = "1"
    report = await import_files(sessions, ("formations.csv", trainings_file(rows[:2])))
    assert (report.files[0].created, report.files[0].updated) == (0, 2)
    async with transaction(sessions) as session:
        stored = (
            await session.scalars(select(Training).where(Training.reference.like(f"{word}-%")))
        ).all()
    assert len(stored) == 3
    first = next(t for t in stored if t.reference == f"{word}-1")
    assert (first.places_left, first.rncp, first.funder) == (1, "RNCP34889", "region")
    assert first.latitude == PLACES[CHAMBERY].lat


# --- The 15-hours rule, and the demo ---


def test_weekly_hours_add_up_services_and_trainings_against_the_target() -> None:
    activities = [
        PlannedActivity(service_id=1),  # 6 h (the service)
        PlannedActivity(weekly_hours=2, service_id=2),  # 2 h: the référent's figure wins
        PlannedActivity(training_id="t"),  # 7,5 h (the training)
        PlannedActivity(service_id=3),  # unknown
        PlannedActivity(),  # unknown
    ]
    hours = weekly_hours(activities, {1: 6.0, 2: 10.0, 3: None}, {"t": 7.5}, target=None)
    assert (hours.total, hours.target, hours.counted, hours.unknown) == (15.5, 15.0, 3, 2)
    assert hours.reached and hours.missing == 0
    assert hours.label == "15,5 h / 15 h par semaine (2 actions sans durée connue)"
    short = weekly_hours(activities[:1], {1: 6.0}, {}, target=20)
    assert (short.reached, short.missing) == (False, 14.0)


def test_demo_base_covers_every_thematique_and_both_funders(places: geo.Gazetteer) -> None:
    structures, services = savoie_base(places, today=TODAY)
    assert len(services) >= 300 and len(structures) >= 50
    assert set(THEMATIQUE_LABELS) <= {t for s in services for t in s["thematiques"]}
    assert len({s["code_insee"] for s in services}) > 100
    trainings = parse_file("formations.csv", trainings_csv(places, today=TODAY))
    assert {r.data["financeur"] for r in trainings.rows} == {"region", "france_travail"}


# --- The command ---


async def test_import_command_prints_the_report_in_french(
    sessions: Sessions, settings: Settings, tmp_path: Any
) -> None:
    word = tag()
    path = tmp_path / "services.json"
    path.write_bytes(as_json([service(word, 1), service(word, 2, nom="")]))
    out, err = io.StringIO(), io.StringIO()
    code = await run_import(settings, [tmp_path], out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert (
        "« services.json » (services (data·inclusion), 2 éléments) : 1 ajout, 0 mise à jour" in text
    )
    assert f"élément 2 (test-{word}--2) : nom : au moins 3 caractères attendus." in text


# --- Through HTTP ---


@pytest.fixture(scope="module")
async def resources_url(settings: Settings, sessions: Sessions) -> AsyncIterator[str]:
    """The app, served by uvicorn, with the resource routers (added here when the app does not
    include them yet). The resource base does not use Temporal."""
    app = create_app(settings, temporal=cast(Client, object()))
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/resources/services" not in paths:
        app.include_router(resources_routes.router)
        app.include_router(pages_resources.router)
    port = free_port()
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def follow_person(sessions: Sessions, staff: Staff, postal_code: str, city: str) -> str:
    """A person followed by the staff's référent (the journey's read model only)."""
    async with transaction(sessions) as session:
        person = Beneficiary(
            first_name="Test",
            last_name="Ressources",
            birth_date=date(1990, 1, 1),
            postal_code=postal_code,
            city=city,
            territory="73",
        )
        session.add(person)
        await session.flush()
        session.add(
            JourneyRecord(
                beneficiary_id=person.id,
                journey_id=person.id,
                workflow_id=f"journey-{person.id}",
                step="accompaniment",
                step_since=utcnow(),
                referent_id=staff.referent_id,
                structure_id=staff.structure_id,
                territory="73",
            )
        )
    return person.id


EQUIPEMENT = "numerique--acquerir-un-equipement"


async def test_api_search_read_and_roles(
    resources_url: str, sessions: Sessions, staff: Staff
) -> None:
    word = tag()
    rows = [
        service(word, 1, nom="Près", code_insee=AIX, thematiques=[EQUIPEMENT]),
        service(word, 2, nom="Loin", code_insee=ALBERTVILLE),
    ]
    await import_files(sessions, ("services.json", as_json(rows)))
    person = await follow_person(sessions, staff, "73100", "Aix-les-Bains")

    async with httpx.AsyncClient(base_url=resources_url, timeout=30) as http:
        referent = staff.headers("referent")
        found = await http.get(
            "/api/v1/resources/services",
            params={"q": word.upper(), "beneficiary_id": person, "sort": "distance"},
            headers=referent,
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert [i["nom"] for i in body["items"]] == ["Près", "Loin"]
        assert body["origin"]["label"] == "Aix-les-Bains (73100)"
        assert body["items"][0]["distance_km"] == 0

        by_theme = await http.get(
            "/api/v1/resources/services",
            params={"q": word, "thematique": "numerique", "commune": "Chambéry", "radius_km": 30},
            headers=staff.headers("orientation"),
        )
        assert [i["nom"] for i in by_theme.json()["items"]] == ["Près"]

        detail = await http.get(
            f"/api/v1/resources/services/{body['items'][1]['id']}",
            params={"commune": "73000"},
            headers=staff.headers("manager"),
        )
        assert detail.status_code == 200
        assert detail.json()["source_id"] == f"test-{word}--2"
        assert 35 < detail.json()["distance_km"] < 45

        assert (
            await http.get("/api/v1/resources/services/999999999", headers=referent)
        ).json() == {"detail": "Service introuvable."}
        unknown = await http.get(
            "/api/v1/resources/services", params={"thematique": "astrologie"}, headers=referent
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"].startswith("Thématique(s) inconnue(s) : astrologie")
        no_origin = await http.get(
            "/api/v1/resources/services", params={"radius_km": 10}, headers=referent
        )
        assert no_origin.status_code == 422
        nowhere = await http.get(
            "/api/v1/resources/services", params={"commune": "Atlantide"}, headers=referent
        )
        assert nowhere.status_code == 422
        assert "Commune « Atlantide » inconnue" in nowhere.json()["detail"]

        # Someone who does not follow the person learns nothing about them.
        hidden = await http.get(
            "/api/v1/resources/services",
            params={"beneficiary_id": person},
            headers=staff.headers("outsider"),
        )
        assert hidden.status_code == 404
        funder = await http.get("/api/v1/resources/services", headers=staff.headers("funder"))
        assert funder.status_code == 403
        assert (await http.get("/api/v1/resources/services")).status_code == 401


async def test_api_imports_are_for_admins(resources_url: str, staff: Staff) -> None:
    word = tag()
    files = [
        ("files", ("services.json", as_json([service(word, 1), service(word, 2, nom=None)]))),
        ("files", ("formations.csv", trainings_file([training_row(word, 1)]))),
    ]
    async with httpx.AsyncClient(base_url=resources_url, timeout=30) as http:
        refused = await http.post(
            "/api/v1/resources/imports", files=files, headers=staff.headers("referent")
        )
        assert refused.status_code == 403
        done = await http.post(
            "/api/v1/resources/imports", files=files, headers=staff.headers("admin")
        )
        assert done.status_code == 200, done.text
        services_report, trainings_report = done.json()["files"]
        assert (services_report["created"], services_report["rejected"][0]["row"]) == (1, 2)
        assert trainings_report["created"] == 1

        trainings = await http.get(
            "/api/v1/resources/trainings",
            params={"q": word, "funder": "region"},
            headers=staff.headers("referent"),
        )
        (training,) = trainings.json()["items"]
        assert (training["funder_label"], training["weekly_hours"]) == ("Région", 35)

        created = await http.post(
            "/api/v1/resources/trainings",
            json={
                "title": f"CACES {word}",
                "organisation": "GRETA",
                "funder": "france_travail",
                "start_on": TODAY.isoformat(),
                "end_on": TODAY.isoformat(),
                "city": "Ugine",
            },
            headers=staff.headers("admin"),
        )
        assert created.status_code == 201, created.text
        assert created.json()["latitude"] == PLACES["73303"].lat
        again = await http.post(
            "/api/v1/resources/trainings",
            json={
                "title": "Formation refusée",
                "organisation": "GRETA",
                "funder": "region",
                "start_on": TODAY.isoformat(),
                "end_on": TODAY.isoformat(),
            },
            headers=staff.headers("referent"),
        )
        assert again.status_code == 403


async def test_pages_search_detail_import_and_training_form(
    resources_url: str, sessions: Sessions, staff: Staff
) -> None:
    word = tag()
    await import_files(
        sessions,
        ("services.json", as_json([service(word, 1, nom="Épicerie solidaire", code_insee=AIX)])),
    )
    person = await follow_person(sessions, staff, "73000", "Chambéry")

    async with signed_in(resources_url, staff["referent"].email) as referent:
        page = await referent.get("/ressources", params={"q": f"EPICERIE {word}", "pour": person})
        assert page.status_code == 200
        assert "Épicerie solidaire" in page.text
        assert "Chambéry (73000)" in page.text and "km" in page.text
        service_id = page.text.split("/ressources/services/")[1].split("?")[0]
        detail = await referent.get(f"/ressources/services/{service_id}", params={"pour": person})
        assert detail.status_code == 200 and "Zone d'éligibilité" in detail.text
        refused = await referent.get("/ressources/import")
        assert refused.status_code == 403

    two_services = as_json([service(word, 2), service(word, 3, nom=None)])
    async with signed_in(resources_url, staff["admin"].email) as admin:
        form = await admin.get("/ressources/import")
        assert 'name="csrf_token"' in form.text
        report = await admin.post(
            "/ressources/import",
            files=[("fichiers", ("services.json", two_services))],
        )
        assert report.status_code == 200
        assert "Rapport d'import" in report.text and "champ obligatoire manquant" in report.text

        bad = await admin.post(
            "/ressources/formations/nouvelle",
            data={
                "title": f"Cuisine {word}",
                "organisation": "AFPA",
                "funder": "region",
                "start_on": "2030-02-01",
                "end_on": "2030-01-01",
            },
        )
        assert bad.status_code == 422 and "La date de fin précède la date de début." in bad.text
        good = await admin.post(
            "/ressources/formations/nouvelle",
            data={
                "title": f"Cuisine {word}",
                "organisation": "AFPA",
                "funder": "region",
                "start_on": "2030-01-01",
                "end_on": "2030-03-01",
                "weekly_hours": "35",
            },
        )
        assert good.status_code == 303
        shown = await admin.get(good.headers["location"])
        assert f"Cuisine {word}" in shown.text and "35 h par semaine" in shown.text
        without_csrf = await admin.client.post("/ressources/formations/nouvelle", data={})
        assert without_csrf.status_code == 403


def test_principal_roles_for_search() -> None:
    funder = Principal(id="f", role=Role.FUNDER, full_name="F", territory="73")
    service = ResourceBaseService(cast(AsyncSession, None), funder)
    with pytest.raises(Forbidden, match="base de ressources"):
        service._may_search()


# --- Any commune of France ---


@pytest.mark.onboarding
async def test_distance_search_from_a_commune_of_another_departement(
    resources_url: str, sessions: Sessions, staff: Staff
) -> None:
    annecy, annemasse, lyon = "74010", "74012", "69123"
    word = tag()
    rows = [
        service(word, 1, nom="À Annemasse", code_insee=annemasse),
        service(word, 2, nom="À Annecy", code_insee=annecy),
        service(word, 3, nom="À Lyon", code_insee=lyon),
        service(word, 4, nom="Commune inexistante"),
    ]
    rows[3].update(code_insee="73999", code_postal="73999", commune="Nulle part")
    report = await import_files(sessions, ("services.json", as_json(rows)))
    (rejected,) = report.files[0].rejected
    assert (rejected.row, rejected.reason) == (
        4,
        "code_insee : aucune commune n'a le code INSEE « 73999 ».",
    )

    async with httpx.AsyncClient(base_url=resources_url, timeout=30) as http:
        referent = staff.headers("referent")
        found = await http.get(
            "/api/v1/resources/services",
            params={"q": word, "commune": "Annecy", "sort": "distance"},
            headers=referent,
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["origin"]["code_insee"] == annecy
        assert body["origin"]["label"] == "Annecy (74000)"
        assert [i["nom"] for i in body["items"]] == ["À Annecy", "À Annemasse", "À Lyon"]
        km = [i["distance_km"] for i in body["items"]]
        assert km[0] == 0 and 30 < km[1] < 45 and 100 < km[2] < 120

        # From a commune of the Rhône, within 50 km: Lyon only.
        near_lyon = await http.get(
            "/api/v1/resources/services",
            params={"q": word, "commune": "Villeurbanne", "radius_km": 50, "sort": "distance"},
            headers=referent,
        )
        assert near_lyon.json()["origin"]["label"] == "Villeurbanne (69100)"
        assert [i["nom"] for i in near_lyon.json()["items"]] == ["À Lyon"]
        assert near_lyon.json()["items"][0]["distance_km"] < 10

        # Open to the people of a commune of the Haute-Savoie: by its code INSEE.
        eligible = await http.get(
            "/api/v1/resources/services",
            params={"q": word, "zone_eligibilite": annecy},
            headers=referent,
        )
        assert eligible.json()["total"] == 3
        unknown = await http.get(
            "/api/v1/resources/services",
            params={"q": word, "zone_eligibilite": "74999"},
            headers=referent,
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"] == (
            "zone_eligibilite : aucune commune n'a le code INSEE « 74999 »."
        )
        nowhere = await http.get(
            "/api/v1/resources/services", params={"commune": "74999"}, headers=referent
        )
        assert nowhere.status_code == 422
        assert nowhere.json()["detail"].startswith("Commune « 74999 » inconnue")
