"""The managers' indicators and a journey's full story.

Six journeys of a département of their own, moved by the journey's own rules
(``parcours.journey.rules``) at chosen dates of 2025 and written by the real read-model
activity, make a data set small enough to count by hand; the expected figures are worked out
next to the data. The API and the pages are read over HTTP, as managers read them.
"""

from __future__ import annotations

import html
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.journey import ReadModelActivities
from parcours.access.models import Structure
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.indicators.closed_months import MONTHS, STAYS
from parcours.indicators.models import JourneyMilestones, JourneyStepSpan
from parcours.indicators.repository import IndicatorRepository
from parcours.indicators.rules import COLUMNS, days_per_step, journey_rows, local_day, stay_days
from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    ExitReason,
    JourneyEvent,
    JourneyInput,
    JourneyState,
    OrientationKind,
    RecordCheckInInput,
    RecordEmploymentInput,
    RecordJourneyEventsInput,
    SignContractInput,
    Sla,
    Step,
)
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from tests.conftest import POSTGRES
from tests.support.accounts import Account, Staff, create_account
from tests.support.clients import signed_in
from tests.support.indicators import year_scope
from tests.support.journeys import Journeys, act

SLA = Sla()
PERIOD = {"from_month": "2025-01", "to_month": "2025-12"}


def at(day: str) -> datetime:
    """9:00 UTC (10:00 or 11:00 in France): every move of the data set happens then."""
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


class Simulated:
    """A journey moved by the journey's rules, each transition written by the read-model
    activity as the workflow writes it (one batch of numbered events)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], state: JourneyState, written: bool
    ) -> None:
        self.sessions = sessions
        self.state = state
        self.written = written
        self.batches: list[RecordJourneyEventsInput] = []

    @property
    def id(self) -> str:
        return self.state.beneficiary_id

    @classmethod
    async def start(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        *,
        name: str,
        territory: str,
        structure_id: str,
        referent_id: str,
        rsa_opened_on: date | None,
        on: str,
        written: bool = True,
    ) -> Simulated:
        """``written`` False: the batches are only kept, for the test to deliver."""
        person = Beneficiary(
            id=str(uuid.uuid4()),
            first_name=name,
            last_name="Indicateurs",
            birth_date=date(1985, 6, 1),
            territory=territory,
            rsa_opened_on=rsa_opened_on,
        )
        async with transaction(sessions) as session:
            session.add(person)
        journey_input = JourneyInput(
            beneficiary_id=person.id,
            territory=territory,
            referent_id=referent_id,
            structure_id=structure_id,
            rsa_opened_on=rsa_opened_on,
            actor_id=referent_id,
            sla=SLA,
        )
        state, events = rules.start(journey_input, at(on))
        journey = cls(sessions, state, written)
        await journey._commit(state, events)
        return journey

    async def act(self, on: str, action: Action) -> None:
        await self._commit(*rules.apply(self.state, action, at(on), SLA))

    async def tick(self, on: str) -> None:
        """What falls due then (a follow-up check-in)."""
        await self._commit(*rules.on_time(self.state, at(on), SLA))

    async def _commit(self, state: JourneyState, events: list[JourneyEvent]) -> None:
        batch = RecordJourneyEventsInput(
            journey=state.model_copy(update={"seq": self.state.seq + len(events)}),
            first_seq=self.state.seq + 1,
            events=events,
        )
        if self.written:
            activities = ReadModelActivities(self.sessions, Settings())
            await ActivityEnvironment().run(activities.record_journey_events, batch)
        self.batches.append(batch)
        self.state = batch.journey


@dataclass
class DataSet:
    territory: str
    structure_a: str
    structure_b: str
    referent: Account
    orientation: Account
    manager: Account
    journeys: dict[str, Simulated]


async def _free_territory(sessions: async_sessionmaker[AsyncSession]) -> str:
    """A département code nobody else's data uses, so the figures are this data set's."""
    async with sessions() as session:
        used = set(await session.scalars(select(JourneyRecord.territory).distinct()))
        used |= set(await session.scalars(select(Structure.territory).distinct()))
    return random.choice([str(c) for c in range(900, 970) if str(c) not in used])


@pytest.fixture(scope="module")
async def data(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> DataSet:
    territory = await _free_territory(sessions)
    async with transaction(sessions) as session:
        a = Structure(name="Maison de l'insertion A", kind="departement", territory=territory)
        b = Structure(name="Association B", kind="association", territory=territory)
        session.add_all([a, b])
    referent = await create_account(
        sessions,
        settings,
        "referent",
        full_name="Léa Référente",
        territory=territory,
        structure_id=a.id,
    )
    orientation = await create_account(
        sessions, settings, "orientation", full_name="Omar Orienteur", territory=territory
    )
    manager = await create_account(
        sessions, settings, "manager", full_name="Maud Responsable", territory=territory
    )
    ref, by = referent.id, {"actor_id": referent.id}

    def orient(structure_id: str) -> DecideOrientationInput:
        return DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=structure_id,
            referent_id=ref,
            actor_id=orientation.id,
        )

    def employment(on: str, consent: bool) -> RecordEmploymentInput:
        return RecordEmploymentInput(
            started_on=date.fromisoformat(on),
            contract=EmploymentContract.CDI,
            follow_up_consent=consent,
            **by,
        )

    async def start(name: str, structure: str, rsa: str | None, on: str) -> Simulated:
        return await Simulated.start(
            sessions,
            name=name,
            territory=territory,
            structure_id=structure,
            referent_id=ref,
            rsa_opened_on=date.fromisoformat(rsa) if rsa else None,
            on=on,
        )

    # J1 (A): oriented 10 days after the RSA opened, contract 18 days later, work with
    # follow-up from 3 March, kept at month 6 (3 September): sustained employment.
    j1 = await start("Jeanne", a.id, "2025-01-06", "2025-01-06")
    await j1.act("2025-01-08", BeginDiagnosisInput(**by))
    await j1.act("2025-01-15", CompleteDiagnosisInput(**by))
    await j1.act("2025-01-16", orient(a.id))
    await j1.act("2025-01-16", SignContractInput(signed_on=date(2025, 2, 3), **by))
    await j1.act("2025-03-03", employment("2025-03-03", consent=True))
    for due, month in (("2025-04-03", 1), ("2025-06-03", 3), ("2025-09-03", 6)):
        await j1.tick(due)
        await j1.act(due, RecordCheckInInput(month=month, still_employed=True, **by))
    # J2 (A): oriented after 25 days, contract after 46, work without follow-up (5 May).
    j2 = await start("Paul", a.id, "2025-01-20", "2025-01-20")
    await j2.act("2025-01-22", BeginDiagnosisInput(**by))
    await j2.act("2025-02-10", CompleteDiagnosisInput(**by))
    await j2.act("2025-02-14", orient(a.id))
    await j2.act("2025-04-01", SignContractInput(signed_on=date(2025, 4, 1), **by))
    await j2.act("2025-05-05", employment("2025-05-05", consent=False))
    # J3 (B): oriented after 39 days, no contract, declined the accompaniment on 2 June.
    j3 = await start("Rose", b.id, "2025-02-03", "2025-02-03")
    await j3.act("2025-02-05", BeginDiagnosisInput(**by))
    await j3.act("2025-03-10", CompleteDiagnosisInput(**by))
    await j3.act("2025-03-14", orient(b.id))
    await j3.act("2025-06-02", CloseInput(exit_reason=ExitReason.DECLINED, **by))
    # J4 (B): still in diagnosis, never oriented.
    j4 = await start("Marc", b.id, "2025-02-17", "2025-02-17")
    await j4.act("2025-02-19", BeginDiagnosisInput(**by))
    # J5 (A): rights closed on 20 March, before any diagnosis.
    j5 = await start("Lina", a.id, "2025-03-03", "2025-03-03")
    await j5.act("2025-03-20", CloseInput(exit_reason=ExitReason.RIGHTS_CLOSED, **by))
    # J6 (A): no RSA (started 7 April), contract 10 days after orientation, work with
    # follow-up from 12 May, job lost at the month-1 check-in: back to accompaniment.
    j6 = await start("Yanis", a.id, None, "2025-04-07")
    await j6.act("2025-04-08", BeginDiagnosisInput(**by))
    await j6.act("2025-04-09", CompleteDiagnosisInput(**by))
    await j6.act("2025-04-10", orient(a.id))
    await j6.act("2025-04-20", SignContractInput(signed_on=date(2025, 4, 20), **by))
    await j6.act("2025-05-12", employment("2025-05-12", consent=True))
    await j6.tick("2025-06-12")
    await j6.act("2025-06-12", RecordCheckInInput(month=1, still_employed=False, **by))
    journeys = {"j1": j1, "j2": j2, "j3": j3, "j4": j4, "j5": j5, "j6": j6}
    return DataSet(territory, a.id, b.id, referent, orientation, manager, journeys)


async def indicators(http: httpx.AsyncClient, who: Account, **params: str) -> dict[str, Any]:
    response = await http.get("/api/v1/indicators", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def rate(r: dict[str, Any]) -> tuple[int, int, float | None]:
    return r["numerator"], r["denominator"], r["percent"]


async def test_the_indicators_of_a_hand_checked_data_set(
    http: httpx.AsyncClient, data: DataSet
) -> None:
    read = await indicators(http, data.manager, **PERIOD)
    assert read["territory"] == data.territory
    assert read["period_label"] == "de janvier 2025 à décembre 2025"
    total = read["total"]
    # Entered in 2025: the six; five with an RSA opening (J6 has none).
    assert (total["entered"], total["rsa_openings"]) == (6, 5)
    # Oriented within 15 days: J1 (10 days); within 30: J1, J2 (25); within 6 weeks: J1, J2,
    # J3 (39). J4 and J5 never were: all five delays are long over.
    assert [(r["label"], *rate(r)) for r in total["oriented_within"]] == [
        ("Orientées sous 15 jours", 1, 5, 20.0),
        ("Orientées sous 30 jours", 2, 5, 40.0),
        ("Orientées sous 6 semaines", 3, 5, 60.0),
    ]
    # Oriented in 2025: J1, J2, J3, J6; contract within a month: J1 (18 days), J6 (10);
    # J2 signed after 46 days, J3 never did.
    assert total["orientations"] == 4
    assert rate(total["contract_within"]) == (2, 4, 50.0)
    assert total["contract_within"]["label"] == "Contrat signé sous 1 mois après l'orientation"
    # Follow-ups: J1 kept at month 6, J6 lost at month 1.
    assert rate(total["follow_up_kept"]) == (1, 2, 50.0)
    # Exits: J1 sustained employment, J2 employment (both positive), J3 declined, J5 rights.
    assert (total["exits"], total["positive_exits"]) == (4, 2)
    assert rate(read["positive_exit_rate"]) == (2, 4, 50.0)
    assert {e["reason"]: (e["count"], e["positive"]) for e in read["exits"]} == {
        "sustained_employment": (1, True),
        "employment": (1, True),
        "rights_closed": (1, False),
        "declined": (1, False),
        "moved_away": (0, False),
        "other": (0, False),
    }
    # How far the six went: diagnosis (all but J5), orientation (J1 J2 J3 J6), contract
    # (J1 J2 J6), work (J1 J2 J6), follow-up (J1 J6), kept at month 6 (J1).
    assert [(s["key"], s["count"], s["percent"]) for s in read["funnel"]] == [
        ("entered", 6, 100.0),
        ("diagnosed", 5, 83.3),
        ("oriented", 4, 66.7),
        ("contract", 3, 50.0),
        ("employed", 3, 50.0),
        ("followed", 2, 33.3),
        ("kept", 1, 16.7),
    ]
    # Days in each step, stays ended in 2025 (percentile_cont's interpolation):
    # intake 2 2 2 2 1 17 (J5 closed after 17 days); diagnosis 7 19 33 1 (J4 still there);
    # orientation 1 4 4 1; accompaniment 46 80 80 32 (J6 back there since June); work
    # with follow-up chosen at once has no stay of its own; follow-up 184 (J1) and 31 (J6).
    assert {d["step"]: (d["count"], d["median_days"], d["p90_days"]) for d in read["delays"]} == {
        "intake": (6, 2.0, 9.5),
        "diagnosis": (4, 13.0, 28.8),
        "orientation": (4, 2.5, 4.0),
        "accompaniment": (4, 63.0, 80.0),
        "employment": (0, None, None),
        "follow_up": (2, 107.5, 168.7),
    }
    months = {m["month"]: m["figures"] for m in read["months"]}
    assert list(months) == [f"2025-{m:02d}" for m in range(1, 13)]
    # January: J1 and J2 opened; both oriented within 30 days, J1 within 15; J1 oriented.
    january = months["2025-01"]
    assert (january["entered"], january["orientations"]) == (2, 1)
    assert [rate(r) for r in january["oriented_within"]] == [
        (1, 2, 50.0),
        (2, 2, 100.0),
        (2, 2, 100.0),
    ]
    # April: J6 only, without RSA: no orientation delay to count.
    assert [rate(r) for r in months["2025-04"]["oriented_within"]] == [(0, 0, None)] * 3
    assert {k: months[k]["exits"] for k in months if months[k]["exits"]} == {
        "2025-03": 1,
        "2025-05": 1,
        "2025-06": 1,
        "2025-09": 1,
    }
    structures = {s["label"]: s["figures"] for s in read["structures"]}
    assert list(structures) == ["Association B", "Maison de l'insertion A"]
    # A: J1 J2 J5 J6. B: J3 J4.
    assert (
        structures["Maison de l'insertion A"]["entered"],
        structures["Association B"]["entered"],
    ) == (4, 2)
    assert rate(structures["Association B"]["oriented_within"][2]) == (1, 2, 50.0)
    assert rate(structures["Maison de l'insertion A"]["contract_within"]) == (2, 3, 66.7)


async def test_one_structure_and_a_shorter_period(http: httpx.AsyncClient, data: DataSet) -> None:
    read = await indicators(
        http, data.manager, structure_id=data.structure_b, from_month="2025-02", to_month="2025-03"
    )
    assert read["structure"]["label"] == "Association B"
    assert read["period_label"] == "de février 2025 à mars 2025"
    # J3 and J4 opened in February; J3 oriented in March (39 days), J4 never.
    total = read["total"]
    assert (total["entered"], total["orientations"], total["exits"]) == (2, 1, 0)
    assert [rate(r) for r in total["oriented_within"]][2] == (1, 2, 50.0)
    # Stays ended in February and March: their intakes (2 days each), J3's diagnosis (33).
    delays = {d["step"]: (d["count"], d["median_days"]) for d in read["delays"]}
    assert delays["intake"] == (2, 2.0)
    assert delays["diagnosis"] == (1, 33.0)


async def test_a_closed_months_time_per_step_follows_every_later_change(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """March 2025 is long over: its stays' times are kept once read (PostgreSQL), yet a
    journey imported afterwards with stays ending in March, one written late, and a person
    deleted show at the next read — the same figures as every stay counted afresh."""
    territory = await _free_territory(sessions)
    async with transaction(sessions) as session:
        a = Structure(name="Structure A", kind="departement", territory=territory)
        b = Structure(name="Structure B", kind="association", territory=territory)
        session.add_all([a, b])
    referent = await create_account(
        sessions, settings, "referent", full_name="Réf", territory=territory, structure_id=a.id
    )
    manager = await create_account(sessions, settings, "manager", territory=territory)
    by = {"actor_id": referent.id}

    async def intake(
        name: str, structure: str, on: str, until: str, written: bool = True
    ) -> Simulated:
        journey = await Simulated.start(
            sessions,
            name=name,
            territory=territory,
            structure_id=structure,
            referent_id=referent.id,
            rsa_opened_on=date.fromisoformat(on),
            on=on,
            written=written,
        )
        await journey.act(until, BeginDiagnosisInput(**by))
        return journey

    async def march(**scope: str) -> dict[str, tuple[int, float | None]]:
        read = await indicators(http, manager, from_month="2025-03", to_month="2025-03", **scope)
        return {d["step"]: (d["count"], d["median_days"]) for d in read["delays"]}

    k1 = await intake("Kim", a.id, "2025-03-03", "2025-03-05")  # 2 days
    await intake("Noa", a.id, "2025-03-10", "2025-03-20")  # 10 days
    await intake("Ily", b.id, "2025-02-24", "2025-03-04")  # 8 days, ended in March
    assert (await march())["intake"] == (3, 8.0)
    assert (await march(structure_id=b.id))["intake"] == (1, 8.0)
    if POSTGRES:  # March is kept, at the version it was counted at
        async with sessions() as session:
            kept = await session.execute(
                select(MONTHS.c.version, MONTHS.c.summarized).where(
                    MONTHS.c.figure == STAYS, MONTHS.c.territory == territory
                )
            )
            ((version, summarized),) = kept.all()
            assert summarized == version
    # A journey of March imported later (with B), its newest transition delivered first (the
    # intake's stay is written already ended): in both figures at once.
    sam = await intake("Sam", b.id, "2025-03-24", "2025-03-28", written=False)  # 4 days
    for batch in reversed(sam.batches):
        await deliver(sessions, batch)
    assert (await march())["intake"] == (4, 6.0)
    assert (await march(structure_id=b.id))["intake"] == (2, 6.0)
    # And one with A, in order (its intake's stay ended by an update).
    await intake("Eva", a.id, "2025-03-25", "2025-03-31")  # 6 days
    assert (await march())["intake"] == (5, 6.0)
    assert (await march(structure_id=a.id))["intake"] == (3, 6.0)
    # A person deleted (her stays with her, by the database's cascade).
    async with transaction(sessions) as session:
        await session.delete(await session.get(Beneficiary, k1.id))
    assert (await march())["intake"] == (4, 7.0)
    assert (await march(structure_id=a.id))["intake"] == (2, 8.0)
    # Kept or counted, the same figures, for the département and each structure.
    async with sessions() as session:
        repo = IndicatorRepository(session)
        for structure_id in (None, a.id, b.id):
            scope = year_scope(territory, 2025, structure_id)
            kept_delays = await repo.step_delays(scope)
            counted = await repo.step_delays_counted(scope)
            assert kept_delays == {k: v for k, v in counted.items() if v.count}


async def test_a_manager_reads_only_their_own_departement(
    http: httpx.AsyncClient, data: DataSet, staff: Staff
) -> None:
    # The manager of Savoie (73) asks for the data set's département: refused.
    response = await http.get(
        "/api/v1/indicators",
        params={"territory": data.territory, **PERIOD},
        headers=staff.headers("manager"),
    )
    assert response.status_code == 403
    assert "votre département" in response.json()["detail"]
    # Without naming one, they get their own, which holds none of the data set.
    own = await indicators(http, staff["manager"], **PERIOD)
    assert own["territory"] == "73"
    assert data.structure_a not in [
        s["structure"] and s["structure"]["id"] for s in own["structures"]
    ]
    # Nor can they read one of its journeys' story.
    story = await http.get(
        f"/api/v1/journeys/{data.journeys['j1'].id}/story", headers=staff.headers("manager")
    )
    assert story.status_code == 404
    # A structure of another département is refused by name.
    response = await http.get(
        "/api/v1/indicators",
        params={"structure_id": data.structure_a},
        headers=staff.headers("manager"),
    )
    assert response.status_code == 422
    # Référents and funders do not read indicators; an administrator reads any département.
    for who in ("referent", "funder"):
        response = await http.get("/api/v1/indicators", headers=staff.headers(who))
        assert response.status_code == 403
    admin = await indicators(http, staff["admin"], territory=data.territory, **PERIOD)
    assert admin["total"] == (await indicators(http, data.manager, **PERIOD))["total"]


async def test_csv_export_opens_in_a_french_spreadsheet(
    http: httpx.AsyncClient, data: DataSet
) -> None:
    response = await http.get(
        "/api/v1/indicators/export.csv",
        params={"table": "mois", **PERIOD},
        headers=data.manager.headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        f"indicateurs-{data.territory}-mois-2025-01-2025-12.csv"
        in (response.headers["content-disposition"])
    )
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    lines = response.content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == (
        "Mois;Entrées (RSA ouvert ou parcours commencé);Ouvertures de droits RSA;"
        "Orientées sous 15 jours (%);Orientées sous 30 jours (%);"
        "Orientées sous 6 semaines (%);Orientations décidées;"
        "Contrat signé sous 1 mois après l'orientation (%);Sorties;Sorties positives;"
        "Suivi dans l'emploi maintenu à 6 mois (%)"
    )
    # January: 2 entries (both RSA), 50 % within 15 days, 100 % within 30 days and 6 weeks,
    # J1 oriented and signed within the month; no exit; nobody entered follow-up (empty).
    assert lines[1] == "janvier 2025;2;2;50,0;100,0;100,0;1;100,0;0;0;"
    assert lines[13] == "Total de la période;6;5;20,0;40,0;60,0;4;50,0;4;2;50,0"
    assert lines[14] == ""  # the file ends with its line break

    exits = await http.get(
        "/api/v1/indicators/export.csv",
        params={"table": "sorties", **PERIOD},
        headers=data.manager.headers,
    )
    assert exits.content.decode("utf-8-sig").split("\r\n")[:3] == [
        "Motif de sortie;Sortie positive;Parcours clôturés;Part (%)",
        "Emploi durable (suivi terminé);oui;1;25,0",
        "Emploi, sans suivi;oui;1;25,0",
    ]
    unknown = await http.get(
        "/api/v1/indicators/export.csv",
        params={"table": "inconnu"},
        headers=data.manager.headers,
    )
    assert unknown.status_code == 422
    assert "Tableau inconnu" in unknown.json()["detail"]


def page_text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def test_the_indicators_page_draws_charts_and_offers_exports(
    api_url: str, data: DataSet, staff: Staff
) -> None:
    async with signed_in(api_url, data.manager.email) as browser:
        response = await browser.get("/gestion/indicateurs?du=2025-01&au=2025-12")
        assert response.status_code == 200
        page = page_text(response)
        assert f"Indicateurs du département {data.territory}" in page
        assert 'href="/gestion/indicateurs"' in page  # in the menu
        key = re.search(r'id="key-figures"(.*?)</ul>', page, re.DOTALL)
        assert key is not None
        figures = re.findall(r'fr-tile__title fr-h3 fr-mb-1v">([^<]+)<', key.group(1))
        assert figures == ["6", "60,0 %", "50,0 %", "50,0 %", "50,0 %"]
        # Charts are inline SVG with a title; the funnel's first bar is the 6 entries.
        assert page.count('<svg role="img"') == 5
        assert "<title>Entrées dans le parcours : 6 (100,0 %)</title>" in page
        # Each table can be exported with the same filters.
        export = re.search(
            r'href="(/gestion/indicateurs/export\.csv\?tableau=sorties[^"]+)"', response.text
        )
        assert export is not None
        csv = await browser.get(html.unescape(export.group(1)))
        assert csv.status_code == 200
        assert csv.content.decode("utf-8-sig").splitlines()[1] == (
            "Emploi durable (suivi terminé);oui;1;25,0"
        )
        # A badly typed month is explained, with a way back.
        wrong = await browser.get("/gestion/indicateurs?du=janvier")
        assert wrong.status_code == 422
        assert "Premier mois : format attendu AAAA-MM" in page_text(wrong)
        assert 'href="/gestion/indicateurs">Afficher les douze derniers mois' in wrong.text
        backwards = await browser.get("/gestion/indicateurs?du=2025-06&au=2025-01")
        assert backwards.status_code == 422
        assert "Le premier mois de la période doit précéder le dernier." in page_text(backwards)
    async with signed_in(api_url, staff["referent"].email) as browser:
        refused = await browser.get("/gestion/indicateurs")
        assert refused.status_code == 403
        assert "réservés aux responsables de territoire" in page_text(refused)


async def test_a_journeys_full_story_shows_who_did_what_and_time_per_step(
    api_url: str, http: httpx.AsyncClient, data: DataSet, staff: Staff
) -> None:
    j1 = data.journeys["j1"]
    async with signed_in(api_url, data.manager.email) as browser:
        response = await browser.get(f"/gestion/parcours/{j1.id}/histoire")
        assert response.status_code == 200
        page = page_text(response)
    assert "Histoire du parcours de Jeanne Indicateurs" in page
    stays = re.findall(
        r"<tr>\s*<th scope=\"row\">([^<]+)</th>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*"
        r"<td>([^<]+)</td>\s*<td>([^<]+)</td>",
        page,
    )
    assert [(s[0], s[1], s[3], s[4]) for s in stays] == [
        ("Accueil", "06/01/2025 à 10:00", "2,0", "Maison de l'insertion A"),
        ("Diagnostic", "08/01/2025 à 10:00", "7,0", "Maison de l'insertion A"),
        ("Orientation", "15/01/2025 à 10:00", "1,0", "Maison de l'insertion A"),
        ("Accompagnement", "16/01/2025 à 10:00", "46,0", "Maison de l'insertion A"),
        ("Suivi dans l'emploi", "03/03/2025 à 10:00", "184,0", "Maison de l'insertion A"),
        ("Clôturé", "03/09/2025 à 11:00", "—", "Maison de l'insertion A"),
    ]
    # Who did what: names, not ids, in the order it happened.
    timeline = re.search(
        r'<ol class="parcours-timeline" id="story-timeline">(.*?)</ol>', page, re.DOTALL
    )
    assert timeline is not None
    entries = re.findall(
        r"fr-mb-0\">([^<]+?) <span.*?fr-text--sm fr-mb-0\">([^<]+)</p>",
        timeline.group(1),
        re.DOTALL,
    )
    assert entries[0] == ("Entrée dans le parcours", "06/01/2025 à 10:00 — par Léa Référente")
    assert ("Orientation décidée", "16/01/2025 à 10:00 — par Omar Orienteur") in entries
    assert entries[-1] == ("Parcours clôturé", "03/09/2025 à 11:00 — par Léa Référente")
    assert data.orientation.id not in page

    # The same story in JSON, for the API's clients.
    story = (await http.get(f"/api/v1/journeys/{j1.id}/story", headers=data.manager.headers)).json()
    assert {t["step"]: t["days"] for t in story["time_in_steps"]} == {
        "intake": 2.0,
        "diagnosis": 7.0,
        "orientation": 1.0,
        "accompaniment": 46.0,
        "follow_up": 184.0,
    }
    # Only managers read stories.
    refused = await http.get(f"/api/v1/journeys/{j1.id}/story", headers=data.referent.headers)
    assert refused.status_code == 403


async def indicator_rows(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """A journey's milestones (its id left out) and stays."""
    async with sessions() as session:
        m = await session.get(JourneyMilestones, beneficiary_id)
        assert m is not None
        spans = await session.scalars(
            select(JourneyStepSpan)
            .where(JourneyStepSpan.beneficiary_id == beneficiary_id)
            .order_by(JourneyStepSpan.entered_at)
        )
        return {c: getattr(m, c) for c in COLUMNS if c != "beneficiary_id"}, [
            (s.step, s.entered_at, s.left_at, s.territory, s.structure_id) for s in spans
        ]


async def deliver(
    sessions: async_sessionmaker[AsyncSession], batch: RecordJourneyEventsInput
) -> None:
    await ActivityEnvironment().run(
        ReadModelActivities(sessions, Settings()).record_journey_events, batch
    )


async def test_projection_is_idempotent_and_the_backfill_agrees_with_it(
    sessions: async_sessionmaker[AsyncSession], data: DataSet
) -> None:
    for journey in data.journeys.values():
        before = await indicator_rows(sessions, journey.id)
        # Temporal retries the activity, and a slow attempt can land after newer ones: every
        # batch delivered again, the newest first, changes nothing.
        for batch in reversed(journey.batches):
            await deliver(sessions, batch)
        assert await indicator_rows(sessions, journey.id) == before
        # A journey recorded before the indicators existed gets the same rows from its events.
        async with sessions() as session:
            record = await session.get(JourneyRecord, journey.id)
            assert record is not None
            events = await session.scalars(
                select(JourneyEventRecord)
                .where(JourneyEventRecord.beneficiary_id == journey.id)
                .order_by(JourneyEventRecord.seq)
            )
            timeline = [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "step": e.step,
                    "occurred_at": e.occurred_at,
                    "detail": e.detail,
                }
                for e in events
            ]
        milestones, spans = journey_rows(
            {
                "beneficiary_id": record.beneficiary_id,
                "step": record.step,
                "step_since": record.step_since,
                "territory": record.territory,
                "structure_id": record.structure_id,
            },
            journey.state.rsa_opened_on,
            timeline,
        )
        expected_milestones, expected_spans = before
        assert milestones is not None
        assert {k: v for k, v in milestones.items() if k != "beneficiary_id"} == (
            expected_milestones
        )
        assert [
            (s["step"], s["entered_at"], s["left_at"], s["territory"], s["structure_id"])
            for s in spans
        ] == expected_spans


async def test_the_real_workflow_keeps_milestones_and_spans(
    time_env: Any,
    time_worker: Any,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> None:
    journeys = Journeys(time_env, sessions, settings, staff)
    try:
        handle = await journeys.enrol()
        entered = [(await handle.query("current", result_type=JourneyState)).step_since]
        for action in (
            BeginDiagnosisInput(actor_id=staff.referent_id),
            CompleteDiagnosisInput(actor_id=staff.referent_id),
            DecideOrientationInput(
                kind=OrientationKind.PROFESSIONAL,
                structure_id=staff.outsider_structure_id,
                referent_id=staff.outsider_id,
                actor_id=staff.orientation_id,
            ),
        ):
            await journeys.advance(await journeys.now() + timedelta(days=4))
            state = await act(handle, action)
            entered.append(state.step_since)
        await journeys.matches(handle)
    finally:
        await journeys.terminate_open()
    beneficiary_id = handle.id.removeprefix("journey-")
    async with sessions() as session:
        spans = (
            await session.scalars(
                select(JourneyStepSpan)
                .where(JourneyStepSpan.beneficiary_id == beneficiary_id)
                .order_by(JourneyStepSpan.entered_at)
            )
        ).all()
        milestones = await session.get(JourneyMilestones, beneficiary_id)
        count = await session.scalar(
            select(func.count())
            .select_from(JourneyMilestones)
            .where(JourneyMilestones.beneficiary_id == beneficiary_id)
        )
    assert [(s.step, s.entered_at, s.left_at) for s in spans] == [
        (Step.INTAKE, entered[0], entered[1]),
        (Step.DIAGNOSIS, entered[1], entered[2]),
        (Step.ORIENTATION, entered[2], entered[3]),
        (Step.ACCOMPANIMENT, entered[3], None),
    ]
    # The accompaniment is with the structure the orientation chose.
    assert spans[-1].structure_id == staff.outsider_structure_id
    assert count == 1 and milestones is not None
    assert milestones.structure_id == staff.outsider_structure_id
    # Days in French time, from the moments the workflow moved.
    assert (milestones.diagnosis_on, milestones.oriented_on) == (
        local_day(entered[1]),
        local_day(entered[3]),
    )
    assert milestones.reference_on == milestones.rsa_opened_on


async def test_transitions_written_out_of_order_give_the_same_rows(
    sessions: async_sessionmaker[AsyncSession], data: DataSet
) -> None:
    """J1's transitions delivered for a twin in a scrambled order (first written last)."""
    j1 = data.journeys["j1"]
    twin = Beneficiary(
        id=str(uuid.uuid4()),
        first_name="Jumelle",
        last_name="Indicateurs",
        birth_date=date(1985, 6, 1),
        territory=data.territory,
    )
    async with transaction(sessions) as session:
        session.add(twin)
    batches = [
        b.model_copy(update={"journey": b.journey.model_copy(update={"beneficiary_id": twin.id})})
        for b in j1.batches
    ]
    order = list(range(len(batches)))
    random.Random(6).shuffle(order)
    assert order != sorted(order)
    for index in order:
        await deliver(sessions, batches[index])
    assert await indicator_rows(sessions, twin.id) == await indicator_rows(sessions, j1.id)
    async with transaction(sessions) as session:
        await session.delete(await session.get(Beneficiary, twin.id))


def test_time_per_step_adds_up_the_stays_in_the_steps_order() -> None:
    """What the journey's page and its story show: a step's time runs from its entry to the
    next stay's, twice visited adds up, the current stay runs until now, closed counts none."""
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    day = timedelta(days=1)
    stays = [
        (Step.INTAKE, t0, t0 + 2 * day),
        (Step.DIAGNOSIS, t0 + 2 * day, t0 + 5 * day),
        (Step.ORIENTATION, t0 + 5 * day, t0 + 23 * day),
        (Step.ACCOMPANIMENT, t0 + 23 * day, t0 + 30 * day),
        (Step.FOLLOW_UP, t0 + 30 * day, t0 + 40 * day),
        (Step.ACCOMPANIMENT, t0 + 40 * day, None),
    ]
    assert days_per_step(stays, t0 + 42 * day) == {
        Step.INTAKE: 2,
        Step.DIAGNOSIS: 3,
        Step.ORIENTATION: 18,
        Step.ACCOMPANIMENT: 9,
        Step.FOLLOW_UP: 10,
    }
    closed = [*stays[:-1], (Step.CLOSED, t0 + 40 * day, None)]
    assert Step.CLOSED not in days_per_step(closed, t0 + 90 * day)
    assert stay_days(Step.CLOSED, t0, None, t0 + day) == 0
