"""Sanction cases through HTTP, on the partner stack (the app and its worker): the référente
opens a case from the journey's page, which shows it with its bounds; the person reads her
rights in her space, finds the notice in her documents and acknowledges receipt; the window
then shows on both sides, and a decision before its end is refused with the rule, on the page
and in the API (409)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Document
from tests.support.accounts import NewAccount, Staff
from tests.support.api import enrol
from tests.support.clients import ApiClients, api_clients, signed_in
from tests.support.partners import PartnerStack
from tests.support.platform import until

pytestmark = pytest.mark.law


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def test_opened_from_the_journey_page_and_acknowledged_by_the_person(
    api: ApiClients,
    partners: PartnerStack,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bid = await enrol(api.referent, referent_id=staff.referent_id, structure_id=staff.structure_id)
    async with signed_in(partners.api_url, staff["referent"].email) as referent:
        before = await referent.get(f"/parcours/{bid}")
        assert "Ouvrir une procédure pour un manquement" in before.text
        opened = await referent.post(
            f"/beneficiaires/{bid}/sanctions", data={"breach": "contract_not_signed"}
        )
        assert opened.status_code == 303, opened.text

        async def listed() -> list[dict[str, Any]] | None:
            found = await api.referent.get(f"/api/v1/beneficiaries/{bid}/sanctions")
            cases: list[dict[str, Any]] = found.json()
            return cases or None

        cases = await until(listed)
        page = text((await referent.get(f"/parcours/{bid}")).text)
    assert len(cases) == 1
    assert "Contrat d'engagement non signé dans le délai" in page
    assert "pas encore datée (aucune décision possible sans elle)" in page
    assert "Premier manquement : suspension de 30 % à 100 % pendant 1 à 2 mois." in page
    case_id = cases[0]["case"]["case_id"]

    async def notice() -> str | None:
        async with sessions() as session:
            names = await session.scalars(
                select(Document.filename).where(Document.beneficiary_id == bid)
            )
            return next((n for n in names if n.startswith("avis-sanction-")), None)

    filename = await until(notice)

    # A decision without a dated notice: refused with the rule, by the API too.
    refused = await api("manager").post(
        f"/api/v1/beneficiaries/{bid}/sanctions/{case_id}/decision",
        json={"measure": "suspension", "rate_percent": 30, "months": 1},
    )
    assert refused.status_code == 409
    assert "notification datée" in refused.json()["detail"]

    person = await new_account("beneficiary", beneficiary_id=bid)
    today = date.today()
    async with signed_in(partners.api_url, person.email) as her:
        space = text((await her.get("/mon-espace")).text)
        assert "Procédure de suspension-remobilisation" in space
        assert "Demander à être entendu·e, accompagné·e de la personne de votre choix." in space
        assert filename in space
        acknowledged = await her.post(
            f"/mon-espace/sanctions/{case_id}/reception", data={"received_on": today.isoformat()}
        )
        assert acknowledged.status_code == 303, acknowledged.text
        space = text((await her.get("/mon-espace")).text)
        sent = await her.post(
            f"/mon-espace/sanctions/{case_id}/observations",
            data={"text": "J'étais à l'hôpital ce jour-là."},
        )
        assert sent.status_code == 303, sent.text
        asked = await her.post(
            f"/mon-espace/sanctions/{case_id}/audition", data={"with_companion": "true"}
        )
        assert asked.status_code == 303, asked.text
    ends = (today + timedelta(days=10)).strftime("%d/%m/%Y")
    assert f"Présenter vos observations jusqu'au {ends}" in space
    async with sessions() as session:
        kept = await session.scalar(
            select(Document.data).where(
                Document.beneficiary_id == bid, Document.filename.like("observations-sanction-%")
            )
        )
    assert kept == "J'étais à l'hôpital ce jour-là.".encode()
    heard = (await api.referent.get(f"/api/v1/beneficiaries/{bid}/sanctions/{case_id}")).json()
    assert heard["case"]["observations_received"]
    assert (heard["case"]["hearing_requested"], heard["case"]["hearing_with_companion"]) == (
        True,
        True,
    )

    async with signed_in(partners.api_url, staff["manager"].email) as manager:
        answer = await manager.post(
            f"/beneficiaires/{bid}/sanctions/{case_id}/decision",
            data={"measure": "suspension", "rate_percent": "30", "months": "1"},
        )
    assert answer.status_code == 409
    assert f"jusqu'au {ends} inclus" in text(answer.text)
    case = (await api.referent.get(f"/api/v1/beneficiaries/{bid}/sanctions/{case_id}")).json()
    assert (case["case"]["status"], case["case"]["measure"]) == ("notified", None)
