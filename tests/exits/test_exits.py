"""Coded exits and the 2023 law's reporting (issue 15, items 6 and 7).

A département's administrator keeps its list of end-of-support reasons; the close form offers
the active ones; a journey closed with a code is counted positive or not as the list says, in
the indicators and in the FSE+ / PDI export. The law's indicators (orientation within 6 weeks
or by France Travail after, contracts within a month, social reviews on time, sanction cases)
and the comités pour l'emploi's monthly CSV are computed from journeys whose events are
recorded here by the real read-model activity, as the other helpers' workflows record them.
Journeys closed without a code still count as before.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    ExitReason,
    JourneyEvent,
    OrientationKind,
    SignContractInput,
    Step,
)
from tests.indicators.test_indicators import Simulated, _free_territory, at
from tests.support.accounts import Account, Staff, create_account
from tests.support.api import enrol, read_until
from tests.support.clients import ApiClients, Browsers

pytestmark = pytest.mark.law

PERIOD = {"from_month": "2025-01", "to_month": "2025-12"}


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def csv_lines(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")
    return response.content.decode("utf-8-sig").split("\r\n")


# --- The list, administered and offered ---


async def test_the_exit_list_is_administered_and_offered_when_closing(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    admin = await browsers("admin")
    page = await admin.get("/admin/motifs-de-sortie")
    assert page.status_code == 200
    assert "Emploi durable (CDI, CDD de 6 mois ou plus)" in text(page)
    assert "Motifs de sortie" in text(page)  # the console's tab

    code = f"service_civique_{uuid.uuid4().hex[:6]}"
    added = await admin.post(
        "/admin/motifs-de-sortie",
        data={"code": code, "label": "Service civique", "exit_reason": "other", "positive": "true"},
    )
    assert added.status_code == 303, added.text
    stopped = await admin.post(
        "/admin/motifs-de-sortie/deces",
        data={"label": "Décès", "exit_reason": "other", "positive": "false", "active": "false"},
    )
    assert stopped.status_code == 303, stopped.text
    bad = await admin.post(
        "/admin/motifs-de-sortie",
        data={"code": "Pas Bon", "label": "Mauvais code", "exit_reason": "other"},
    )
    assert bad.status_code == 422
    assert "minuscules" in text(bad)
    twice = await admin.post(
        "/admin/motifs-de-sortie",
        data={"code": code, "label": "Encore", "exit_reason": "other", "positive": "false"},
    )
    assert twice.status_code == 409
    assert "existe déjà" in text(twice)
    listed = await api.admin.get("/api/v1/exit-codes")
    by_code = {c["code"]: c for c in listed.json()}
    assert by_code[code]["positive"] is True and by_code["deces"]["active"] is False

    # Someone else does not administer it.
    referent = await browsers("referent")
    assert (await referent.get("/admin/motifs-de-sortie")).status_code == 403

    # The close form offers the active codes only.
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    journey_page = text(await referent.get(f"/parcours/{beneficiary_id}"))
    assert f'value="{code}"' in journey_page
    assert "Service civique (sortie positive)" in journey_page
    assert 'value="deces"' not in journey_page

    # A code no longer offered is refused with the reason, nothing written.
    refused = await referent.post(
        f"/parcours/{beneficiary_id}/actions/close", data={"exit_code": "deces"}
    )
    assert refused.status_code == 422
    assert "n'est plus proposé" in text(refused)

    closed = await referent.post(
        f"/parcours/{beneficiary_id}/actions/close", data={"exit_code": code}
    )
    assert closed.status_code == 303, closed.text
    detail = await read_until(
        api.referent, beneficiary_id, lambda d: d["journey"]["step"] == "closed"
    )
    event = next(e for e in detail["timeline"] if e["kind"] == "closed")
    assert event["detail"] == {"exit_reason": "other", "exit_code": code}
    assert detail["journey"]["exit_code"] == code
    closed_page = text(await referent.get(f"/parcours/{beneficiary_id}"))
    assert '<span id="journey-exit">Service civique</span>' in closed_page

    # The FSE+ / PDI export has its line, counted positive as the département's list says.
    year = date.today().year
    export = await api.manager.get("/api/v1/indicators/exits.csv", params={"year": year})
    lines = csv_lines(export)
    assert lines[0] == (
        "Parcours;Date d'entrée;Date de sortie;Durée (jours);Parcours d'orientation;"
        "Code de sortie;Motif de sortie;Sortie positive;Tranche d'âge à la sortie"
    )
    mine = [line for line in lines if line.startswith(detail["journey"]["journey_id"])]
    assert len(mine) == 1
    cells = mine[0].split(";")
    assert cells[5:8] == [code, "Service civique", "oui"]


async def test_the_api_closes_with_a_code_and_its_reason(api: ApiClients, staff: Staff) -> None:
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    close = f"/api/v1/journeys/{beneficiary_id}/actions/close"
    unknown = await api.referent.post(close, json={"exit_code": "loterie"})
    assert unknown.status_code == 422
    assert "Motif de sortie inconnu" in unknown.json()["detail"]
    closed = await api.referent.post(close, json={"exit_code": "fin_de_droits"})
    assert closed.status_code == 200, closed.text
    journey = closed.json()
    assert (journey["exit_reason"], journey["exit_code"]) == ("rights_closed", "fin_de_droits")
    assert journey["exit_reason_label"] == "Fin des droits RSA"


# --- The law's indicators, from recorded events ---


@dataclass
class LawData:
    territory: str
    manager: Account
    journeys: dict[str, Simulated]


async def record(journey: Simulated, on: str, kind: str, **detail: Any) -> None:
    """An event another helper's workflow records on the journey (``record_outcome``)."""
    event = JourneyEvent(kind=kind, occurred_at=at(on), step=journey.state.step, detail=detail)
    await journey._commit(journey.state, [event])


@pytest.fixture(scope="module")
async def law(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> LawData:
    territory = await _free_territory(sessions)
    async with transaction(sessions) as session:
        a = Structure(
            name="Département, maison de l'insertion", kind="departement", territory=territory
        )
        ft = Structure(name="Agence France Travail", kind="france_travail", territory=territory)
        session.add_all([a, ft])
    referent = await create_account(
        sessions, settings, "referent", territory=territory, structure_id=a.id
    )
    manager = await create_account(sessions, settings, "manager", territory=territory)
    by = {"actor_id": referent.id}

    async def start(rsa: str) -> Simulated:
        return await Simulated.start(
            sessions,
            name="Loi",
            territory=territory,
            structure_id=a.id,
            referent_id=referent.id,
            rsa_opened_on=date.fromisoformat(rsa),
            on=rsa,
        )

    async def orient(j: Simulated, on: str) -> None:
        await j.act(on, BeginDiagnosisInput(**by))
        await j.act(on, CompleteDiagnosisInput(**by))
        await j.act(
            on,
            DecideOrientationInput(
                kind=OrientationKind.SOCIO_PROFESSIONAL,
                structure_id=a.id,
                referent_id=referent.id,
                **by,
            ),
        )

    # J1: oriented 14 days after the RSA opened, contract 14 days later; a social review on
    # time; a sanction case opened, lifted by remobilisation (20 days), closed; closed with the
    # coded exit « formation qualifiante » (reason « other », positive by the list).
    j1 = await start("2025-01-06")
    await orient(j1, "2025-01-20")
    await j1.act("2025-02-03", SignContractInput(signed_on=date(2025, 2, 3), **by))
    await record(
        j1, "2025-04-01", "sanction_opened", case_id="c1", breach="absence", repeated=False
    )
    await record(j1, "2025-04-20", "sanction_lifted", case_id="c1", reason="remobilisation")
    await record(j1, "2025-04-21", "sanction_closed", case_id="c1")
    await record(
        j1,
        "2025-05-15",
        "social_review_concluded",
        decision="keep",
        due_on="2025-07-20",
        on_time=True,
    )
    await j1.act(
        "2025-06-02",
        CloseInput(exit_reason=ExitReason.OTHER, exit_code="formation_qualifiante", **by),
    )
    # J2: 6 weeks passed: France Travail asked, then orients (professional, its agency);
    # a sanction case of 40 days.
    j2 = await start("2025-01-06")
    await record(j2, "2025-02-17", "france_travail_orientation_requested", due_on="2025-02-17")
    j2.state = j2.state.model_copy(
        update={"step": Step.ACCOMPANIMENT, "structure_id": ft.id, "step_since": at("2025-03-03")}
    )
    await record(
        j2,
        "2025-03-03",
        "orientation_decided",
        orientation="professional",
        structure_id=ft.id,
        decided_by="france_travail",
    )
    await record(
        j2, "2025-05-01", "sanction_opened", case_id="c2", breach="absence", repeated=False
    )
    await record(j2, "2025-06-10", "sanction_closed", case_id="c2")
    # J3: right opened 10 January, transferred in on 1 March (the clock restarts), oriented
    # 19 days later; a social review concluded late.
    j3 = await start("2025-01-10")
    await record(j3, "2025-03-01", "transferred_in", from_territory="74")
    await orient(j3, "2025-03-20")
    await record(
        j3,
        "2025-09-01",
        "social_review_concluded",
        decision="keep",
        due_on="2025-08-01",
        on_time=False,
    )
    # J4: not subject to duties; never oriented.
    j4 = await start("2025-02-03")
    await record(j4, "2025-02-04", "duties_changed", subject_to_duties=False, reason="activity")
    # J5: closed before coded exits existed, declined (not positive, as before).
    j5 = await start("2025-02-03")
    await j5.act("2025-03-01", CloseInput(exit_reason=ExitReason.DECLINED, **by))
    # J6: oriented after 10 days, closed in employment without a code (positive, as before).
    j6 = await start("2025-02-10")
    await orient(j6, "2025-02-20")
    await j6.act("2025-06-01", CloseInput(exit_reason=ExitReason.EMPLOYMENT, **by))
    journeys = {"j1": j1, "j2": j2, "j3": j3, "j4": j4, "j5": j5, "j6": j6}
    return LawData(territory, manager, journeys)


def rate(r: dict[str, Any]) -> tuple[int, int, float | None]:
    return r["numerator"], r["denominator"], r["percent"]


async def test_the_laws_indicators_count_the_recorded_events(
    http: httpx.AsyncClient, law: LawData
) -> None:
    response = await http.get("/api/v1/indicators", params=PERIOD, headers=law.manager.headers)
    assert response.status_code == 200, response.text
    read = response.json()
    total = read["total"]
    legal = total["oriented_within"][-1]
    assert legal["label"] == "Orientées sous 6 semaines"
    # J1, J3 (from its transfer in) and J6 within 6 weeks; J2 (France Travail), J4, J5 not.
    assert rate(legal) == (3, 6, 50.0)
    assert total["oriented_by_france_travail"] == 1
    # Oriented in the period: J1, J2, J3, J6; only J1 signed within the month.
    assert rate(total["contract_within"]) == (1, 4, 25.0)
    # J1 (coded, positive by the list), J6 (employment, positive as before), J5 (declined).
    assert (total["exits"], total["positive_exits"]) == (3, 2)
    codes = {c["code"]: c["count"] for c in read["exit_codes"]}
    assert codes["formation_qualifiante"] == 1 and codes["emploi_durable"] == 0
    by_reason = {e["reason"]: e["count"] for e in read["exits"]}
    assert by_reason == {
        "sustained_employment": 0,
        "employment": 1,
        "rights_closed": 0,
        "declined": 1,
        "moved_away": 0,
        "other": 1,
    }
    assert read["law"] == {
        "france_travail_requested": 1,
        "social_reviews_on_time": {
            "label": "Revues du parcours social conclues à temps",
            "numerator": 1,
            "denominator": 2,
            "percent": 50.0,
        },
        "sanctions_opened": 2,
        "sanctions_lifted_remobilisation": 1,
        "sanctions_closed": 2,
        "sanction_median_days": 30.0,
    }

    table = await http.get(
        "/api/v1/indicators/export.csv",
        params={"table": "loi-plein-emploi", **PERIOD},
        headers=law.manager.headers,
    )
    lines = csv_lines(table)
    assert lines[0] == "Indicateur;Nombre;Sur;Part (%)"
    assert "Orientées sous 6 semaines;3;6;50,0" in lines
    assert "Orientées par France Travail après le délai;1;;" in lines
    assert "Suspensions levées par la remobilisation;1;;" in lines
    assert "Durée médiane d'une procédure close (jours);30,0;;" in lines


async def test_the_fse_and_pdi_export_has_one_line_per_exit(
    http: httpx.AsyncClient, law: LawData
) -> None:
    response = await http.get(
        "/api/v1/indicators/exits.csv", params={"year": 2025}, headers=law.manager.headers
    )
    lines = csv_lines(response)
    j = law.journeys
    assert lines[1:] == [
        f"{j['j5'].state.id};2025-02-03;2025-03-01;26;;;Refus de l'accompagnement;non;30 à 54 ans",
        f"{j['j6'].state.id};2025-02-10;2025-06-01;111;Socio-professionnelle;;"
        "Emploi, sans suivi;oui;30 à 54 ans",
        f"{j['j1'].state.id};2025-01-06;2025-06-02;147;Socio-professionnelle;"
        "formation_qualifiante;Formation qualifiante ou certifiante;oui;30 à 54 ans",
        "",
    ]
    assert f"sorties-{law.territory}-2025.csv" in response.headers["content-disposition"]
    other_year = await http.get(
        "/api/v1/indicators/exits.csv", params={"year": 2024}, headers=law.manager.headers
    )
    assert csv_lines(other_year)[1:] == [""]


async def test_the_comites_pour_l_emploi_csv_layout(
    http: httpx.AsyncClient, law: LawData, browsers: Browsers
) -> None:
    response = await http.get(
        "/api/v1/indicators/orientations.csv",
        params={"from_month": "2025-01", "to_month": "2025-03"},
        headers=law.manager.headers,
    )
    lines = csv_lines(response)
    t = law.territory
    assert lines == [
        "Mois;Département;Nouveaux droits RSA soumis aux droits et devoirs;Personnes orientées;"
        "dont parcours professionnel;dont parcours socioprofessionnel;dont parcours social;"
        "dont vers France Travail;dont vers Département;dont vers Cap emploi;"
        "dont vers Mission locale;dont vers Autre organisme;"
        "dont orientées dans le délai de 6 semaines;"
        "dont orientées par France Travail après le délai",
        f"2025-01;{t};3;1;0;1;0;0;1;0;0;0;1;0",
        f"2025-02;{t};2;1;0;1;0;0;1;0;0;0;1;0",
        f"2025-03;{t};0;2;1;1;0;1;1;0;0;0;1;1",
        "",
    ]
    assert f"comites-emploi-{t}-2025-01-2025-03.csv" in response.headers["content-disposition"]
