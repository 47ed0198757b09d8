"""The DPO's tools (``security``): the département's administrator — or its délégué·e à la
protection des données — answers « who read this person's carnet this year » from a page,
exports the same lines as CSV, never sees another département's agents; the others are
refused. And the unusual-access report: an agent who read many carnets outside her follow-up
list in a day shows in the managers' « Résumé du jour » (her name on the page, counts and
links only in the mail)."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.management import DigestActivities
from parcours.access.models import AccessLogEntry
from parcours.access.rules import PARIS, CarnetReading, Principal, Role, unusual_readers
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.management.messages import SendDigestsInput
from parcours.management.service import DigestService
from tests.support.accounts import NewAccount, Staff
from tests.support.api import enrol
from tests.support.clients import ApiClients, signed_in
from tests.support.mailbox import LocalMailbox

pytestmark = pytest.mark.security

PAGE = "/admin/journal-des-acces"
API = "/api/v1/admin/access-log"


async def read_carnet(client: httpx.AsyncClient, beneficiary_id: str) -> None:
    response = await client.get(f"/api/v1/beneficiaries/{beneficiary_id}/carnet")
    assert response.status_code == 200, response.text


async def person(sessions: async_sessionmaker[AsyncSession], beneficiary_id: str) -> Beneficiary:
    async with sessions() as session:
        found = await session.get(Beneficiary, beneficiary_id)
    assert found is not None
    return found


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def searches(what: str) -> bool:
    return what in ("Recherche dans le journal des accès", "Export du journal des accès")


async def test_the_administrator_finds_who_read_a_persons_carnet_this_year(
    api: ApiClients,
    api_url: str,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    new_account: NewAccount,
) -> None:
    beneficiary_id = await enrol(api.referent)
    # Two agents read the carnet: the référent, and the chargée d'orientation.
    await read_carnet(api.referent, beneficiary_id)
    await read_carnet(api.orientation, beneficiary_id)
    # An agent of another département: whatever the log says of her, 73 never sees it.
    elsewhere = await new_account("referent", territory="74", full_name="Agente Savoyarde74")
    async with transaction(sessions) as session:
        session.add(
            AccessLogEntry(
                user_id=elsewhere.id, beneficiary_id=beneficiary_id, action="read", what="carnet"
            )
        )
    someone = await person(sessions, beneficiary_id)
    today = datetime.now(PARIS).strftime("%d/%m/%Y")

    async with signed_in(api_url, staff["admin"].email) as browser:
        page = await browser.get(PAGE, params={"person": someone.last_name})
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        # By default: this year, up to today.
        assert f"du 01/01/{datetime.now(PARIS).year} au {today}" in text
        assert f"au carnet de {someone.first_name} {someone.last_name}" in text
        assert "Referent 1" in text and "Orientation 1" in text
        assert f"{today} à" in text
        assert "Agente Savoyarde74" not in text
        assert "Exporter (CSV)" in text

        listed = await api.admin.get(API, params={"beneficiary_id": beneficiary_id})
        assert listed.status_code == 200, listed.text
        found = listed.json()
        readers = {i["agent"]["label"] for i in found["items"] if i["action"] == "read"}
        assert {"Referent 1", "Orientation 1"} <= readers
        assert "Agente Savoyarde74" not in readers
        assert all(
            i["person"]["label"] == f"{someone.first_name} {someone.last_name}"
            for i in found["items"]
        )
        # The search itself is an access: the page's search is already in the log.
        assert any(i["what"] == "access_log.search" for i in found["items"])

        export = await browser.get(f"{PAGE}/export.csv", params={"person": someone.last_name})
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        assert export.headers["cache-control"] == "no-store"
        assert export.headers["content-disposition"].startswith("attachment;")
        rows = csv_rows(export)
        # The same lines as the search (less the searches themselves, each one a new line).
        from_csv = [(r["Agent"], r["Action"], r["Quoi"]) for r in rows if not searches(r["Quoi"])]
        from_api = [
            (i["agent"]["label"], i["action_label"], i["what_label"])
            for i in found["items"]
            if not searches(i["what_label"])
        ]
        assert from_csv == from_api
        assert all(r["Date"] == today for r in rows)
        assert all(r["Personne"] == f"{someone.first_name} {someone.last_name}" for r in rows)
        assert "Agente Savoyarde74" not in export.content.decode("utf-8-sig")

        # Another period: nothing.
        before = await api.admin.get(
            API, params={"beneficiary_id": beneficiary_id, "du": "2020-01-01", "au": "2020-12-31"}
        )
        assert before.json()["total"] == 0
        inverted = await api.admin.get(API, params={"du": "2026-02-01", "au": "2026-01-01"})
        assert inverted.status_code == 422
        too_far = await api.admin.get(API, params={"limit": 100_000})
        assert too_far.status_code == 422

    # The other département's administrator finds nothing of 73's agents.
    admin74 = await new_account("admin", territory="74")
    other = await api(admin74).get(API, params={"beneficiary_id": beneficiary_id})
    assert other.status_code == 200
    assert {i["agent"]["label"] for i in other.json()["items"]} == {"Agente Savoyarde74"}


async def test_a_dpo_has_the_access_log_and_only_it(
    api: ApiClients, api_url: str, staff: Staff, new_account: NewAccount
) -> None:
    dpo = await new_account("dpo", full_name="Déléguée Protection")
    beneficiary_id = await enrol(api.referent)
    await read_carnet(api.referent, beneficiary_id)
    async with signed_in(api_url, dpo.email) as browser:
        page = await browser.get(PAGE, params={"beneficiary_id": beneficiary_id})
        assert page.status_code == 200
        assert "Referent 1" in page.text
        assert 'href="/admin/structures"' not in page.text
        assert (await browser.get("/admin/structures")).status_code == 403
        # A DPO reads the log, never a carnet.
        assert (await browser.get(f"/beneficiaires/{beneficiary_id}/situation")).status_code == 404
    assert (await api(dpo).get(API)).status_code == 200
    assert (await api(dpo).get(f"/api/v1/beneficiaries/{beneficiary_id}/carnet")).status_code == 404


@pytest.mark.parametrize("who", ["referent", "orientation", "funder"])
async def test_the_others_are_refused_the_access_log(
    api: ApiClients, api_url: str, staff: Staff, who: str
) -> None:
    assert (await api(who).get(API)).status_code == 403
    assert (await api(who).get(f"{API}/export.csv")).status_code == 403
    async with signed_in(api_url, staff[who].email) as browser:
        assert (await browser.get(PAGE)).status_code == 403
        assert (await browser.get(f"{PAGE}/export.csv")).status_code == 403


# --- Unusual access ---


def agent(user_id: str, role: Role = Role.REFERENT, structure_id: str | None = "s1") -> Principal:
    return Principal(
        id=user_id, role=role, full_name=user_id, territory="73", structure_id=structure_id
    )


def journey(referent_id: str | None, structure_id: str | None) -> Any:
    return SimpleNamespace(referent_id=referent_id, structure_id=structure_id)


@pytest.mark.parametrize(
    ("case", "reads", "expected"),
    [
        # Her own journeys and her structure's are her list, however many.
        ("own list", [("a", f"mine{i}") for i in range(30)], []),
        ("structure", [("a", f"struct{i}") for i in range(30)], []),
        # Outside her list: counted once per carnet, over the threshold only.
        ("at threshold", [("a", f"out{i}") for i in range(3)], []),
        ("over", [("a", f"out{i}") for i in range(4)], [("a", 4)]),
        ("read twice", [("a", f"out{i}") for i in range(3)] * 2, []),
        ("erased counts", [("a", f"out{i}") for i in range(3)] + [("a", "gone")], [("a", 4)]),
        # A manager or chargée d'orientation reads the whole territory: only her list counts.
        ("manager", [("m", f"out{i}") for i in range(5)], [("m", 5)]),
        # The person herself, and unknown accounts, never count.
        ("person", [("p", f"out{i}") for i in range(5)], []),
        ("unknown", [("x", f"out{i}") for i in range(5)], []),
        (
            "most first",
            [("a", f"out{i}") for i in range(4)] + [("m", f"out{i}") for i in range(5)],
            [("m", 5), ("a", 4)],
        ),
    ],
)
def test_unusual_readers_rule(
    case: str, reads: list[tuple[str, str]], expected: list[tuple[str, int]]
) -> None:
    agents = {
        "a": agent("a"),
        "m": agent("m", Role.MANAGER, structure_id="s9"),
        "p": Principal(
            id="p", role=Role.BENEFICIARY, full_name="p", territory="73", beneficiary_id="out0"
        ),
    }
    journeys = {
        **{f"mine{i}": journey("a", "s2") for i in range(30)},
        **{f"struct{i}": journey("b", "s1") for i in range(30)},
        **{f"out{i}": journey("c", "s3") for i in range(5)},
    }
    found = unusual_readers(
        [CarnetReading(u, b) for u, b in reads], agents, cast(Any, journeys), threshold=3
    )
    assert [(r.user_id, r.outside) for r in found] == expected, case


async def test_an_agent_reading_many_carnets_outside_her_list_shows_in_the_managers_digest(
    api: ApiClients,
    api_url: str,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailbox: LocalMailbox,
) -> None:
    # 21 people enrolled without a référent: none is in the chargée d'orientation's list.
    people = [await enrol(api.outsider) for _ in range(21)]
    for beneficiary_id in people:
        await read_carnet(api.orientation, beneficiary_id)
    # The next morning's digest covers today.
    as_of = datetime.now(UTC) + timedelta(days=1)
    async with transaction(sessions) as session:
        assert await DigestService(session, settings).compose(staff.manager_id, as_of)
    today = datetime.now(PARIS).date()
    search = f"{PAGE}?agent_id={staff.orientation_id}&du={today.isoformat()}&au={today.isoformat()}"

    async with signed_in(api_url, staff["manager"].email) as browser:
        page = await browser.get("/gestion/resume")
    text = html.unescape(page.text)
    assert f"Accès inhabituels le {today.strftime('%d/%m/%Y')}" in text
    assert "Orientation 1 — 21 carnets hors de sa liste" in text
    assert f'href="{search}"' in text

    # The link opens for the manager who got it: the 21 carnets read that day.
    async with signed_in(api_url, staff["manager"].email) as browser:
        found = await browser.get(search + "&action=read")
    assert found.status_code == 200
    assert "21 accès du" in html.unescape(found.text)
    assert 'href="/admin/structures"' not in found.text

    mailing = DigestActivities(sessions, mailbox.settings(settings))
    await ActivityEnvironment().run(mailing.send_digests, SendDigestsInput(day=as_of.date()))
    mail = await mailbox.wait_for(to=staff["manager"].email)
    assert "accès inhabituel" in mail.subject
    assert "21 carnets" in mail.body
    assert f"{settings.public_app_url}{search}" in mail.body.replace("&amp;", "&")
    # Counts and links: no person's name, and not the agent's either.
    assert "Orientation 1" not in mail.body
    for beneficiary_id in people:
        someone = await person(sessions, beneficiary_id)
        assert someone.last_name not in mail.body and someone.first_name not in mail.body
