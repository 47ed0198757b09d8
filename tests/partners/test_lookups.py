"""A référent asks the CAF or France Travail what it knows about a person, from the carnet's
page or the JSON API, through the ``PartnerLookup`` workflow and the partner simulators over
real HTTP: what comes back lands in the carnet with its source, a partner that is down gets a
"pending" answer and the fact shows up once it is back, and France Travail is not asked
without the person's consent."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Consent
from parcours.core.db import transaction
from simulators.caf_feed import RsaEvent, generate_events
from tests.support.accounts import STAFF_PASSWORD, Staff
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.support.caf_feed import TODAY, fresh_seed
from tests.support.clients import signed_in
from tests.support.partners import PartnerStack, unique_nir
from tests.support.people import person_payload
from tests.support.privacy import searchable

Json = dict[str, Any]
REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


async def caf_knows_someone(partners: PartnerStack) -> RsaEvent:
    """A person whose RSA rights the CAF opened (the CAF simulator knows their household)."""
    (event,) = generate_events(1, seed=fresh_seed(), today=TODAY)
    response = await partners.sim.post(
        "/caf/_feed", json={"events": [event.model_dump(mode="json")]}
    )
    response.raise_for_status()
    return event


async def enrol(partners: PartnerStack, staff: Staff, **person: Any) -> str:
    """A person enrolled by the staff's référent (who follows them)."""
    response = await partners.api.post(
        "/api/v1/beneficiaries", json=person_payload(**person), headers=staff.headers()
    )
    assert response.status_code == 201, response.text
    beneficiary_id: str = response.json()["beneficiary"]["id"]
    return beneficiary_id


async def enrol_caf_person(partners: PartnerStack, staff: Staff) -> tuple[str, RsaEvent]:
    event = await caf_knows_someone(partners)
    beneficiary_id = await enrol(
        partners,
        staff,
        caf_number=event.caf_number,
        nir=event.nir,
        birth_date=event.birth_date.isoformat(),
    )
    return beneficiary_id, event


async def register_at_france_travail(partners: PartnerStack, nir: str, identifier: str) -> None:
    response = await partners.sim.post(
        "/france-travail/_individus",
        json={
            "nir": nir,
            "birth_date": "1988-04-12",
            "first_name": "Léa",
            "last_name": "Rey",
            "identifier": identifier,
            "registered_on": "2026-01-05",
        },
    )
    response.raise_for_status()


async def consent(sessions: async_sessionmaker[AsyncSession], beneficiary_id: str) -> None:
    """The person agreed (from their space) to share with France Travail."""
    async with transaction(sessions) as session:
        session.add(Consent(beneficiary_id=beneficiary_id, partner="france_travail", granted=True))


async def lookup(
    partners: PartnerStack, staff: Staff, beneficiary_id: str, partner: str, **body: Any
) -> Any:
    return await partners.api.post(
        f"/api/v1/beneficiaries/{beneficiary_id}/lookups/{partner}",
        json=body or None,
        headers=staff.headers(),
    )


async def carnet_facts(
    partners: PartnerStack, staff: Staff, beneficiary_id: str
) -> dict[str, Json]:
    response = await partners.api.get(
        f"/api/v1/beneficiaries/{beneficiary_id}/carnet", headers=staff.headers()
    )
    response.raise_for_status()
    return {fact["label"]: fact for fact in response.json()["facts"]}


# --- Through the JSON API -------------------------------------------------------------------


async def test_the_caf_look_up_fills_household_and_rsa_rights_with_source_caf(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id, event = await enrol_caf_person(partners, staff)

    response = await lookup(partners, staff, beneficiary_id, "caf")

    assert response.status_code == 200, response.text
    read = response.json()
    assert (read["status"], read["title"]) == ("found", "La CAF a répondu")
    assert "(source : CAF)" in read["message"]
    answered = {fact["label"]: fact for fact in read["facts"]}
    assert answered["Droit au RSA"]["value"].startswith("Droit ouvert et versable")
    assert {fact["source_label"] for fact in read["facts"]} == {"Transmis par la CAF"}
    facts = await carnet_facts(partners, staff, beneficiary_id)
    assert facts["Droit au RSA"]["source"] == "caf"
    assert facts["Droit au RSA"]["value"] == answered["Droit au RSA"]["value"]
    children = event.household.dependent_children
    assert facts["Composition du foyer"]["source"] == "caf"
    assert ("sans enfant" if children == 0 else f"{children} enfant") in (
        facts["Composition du foyer"]["value"]
    )
    log = await partners.api.get(
        f"/api/v1/beneficiaries/{beneficiary_id}/access-log", headers=staff.headers()
    )
    assert {(entry["user_id"], entry["action"], entry["what"]) for entry in log.json()} >= {
        (staff.referent_id, "lookup", "partners.caf")
    }
    # Temporal only saw ids and decisions.
    history = await partners.client.get_workflow_handle(read["workflow_id"]).fetch_history()
    seen = searchable(history)
    address = event.household.address
    for personal in (event.nir, event.last_name, event.first_name, address and address.street):
        assert not personal or personal.casefold() not in seen


async def test_the_same_request_sent_twice_asks_the_caf_once(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id, _ = await enrol_caf_person(partners, staff)

    first, again = await asyncio.gather(
        lookup(partners, staff, beneficiary_id, "caf", request_id="double-clic-1"),
        lookup(partners, staff, beneficiary_id, "caf", request_id="double-clic-1"),
    )
    later = await lookup(partners, staff, beneficiary_id, "caf", request_id="double-clic-1")

    assert [r.status_code for r in (first, again, later)] == [200, 200, 200]
    assert first.json()["workflow_id"] == again.json()["workflow_id"] == later.json()["workflow_id"]
    assert (await partners.state("caf"))["lookups"] == 1


async def test_a_caf_number_the_caf_does_not_know_adds_nothing(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id = await enrol(partners, staff, caf_number="7654321")

    response = await lookup(partners, staff, beneficiary_id, "caf")

    assert response.status_code == 200, response.text
    read = response.json()
    assert read["status"] == "not_found"
    assert read["message"].startswith(
        "La CAF ne connaît aucun allocataire du RSA sous le numéro 7654321"
    )
    assert read["facts"] == []
    assert "Droit au RSA" not in await carnet_facts(partners, staff, beneficiary_id)


async def test_the_france_travail_look_up_fills_registration_and_identifier(
    partners: PartnerStack, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    nir = unique_nir()
    await register_at_france_travail(partners, nir, "7654321K")
    beneficiary_id = await enrol(partners, staff, nir=nir)
    await consent(sessions, beneficiary_id)

    response = await lookup(partners, staff, beneficiary_id, "france-travail")

    assert response.status_code == 200, response.text
    read = response.json()
    assert (read["status"], read["france_travail_id"]) == ("found", "7654321K")
    assert "7654321K" in read["message"] and "(source : France Travail)" in read["message"]
    fact = (await carnet_facts(partners, staff, beneficiary_id))["Inscription à France Travail"]
    assert fact["source"] == "france_travail"
    assert fact["value"].startswith("Inscrit·e depuis le 05/01/2026, catégorie 1")


async def test_without_consent_france_travail_is_not_asked(
    partners: PartnerStack, staff: Staff
) -> None:
    nir = unique_nir()
    await register_at_france_travail(partners, nir, "1234567B")
    beneficiary_id = await enrol(partners, staff, nir=nir)

    response = await lookup(partners, staff, beneficiary_id, "france-travail")

    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        "La personne n'a pas consenti au partage de ses données avec France Travail : rien "
        "n'a été envoyé."
    )
    assert (await partners.state("france-travail"))["searches"] == 0
    assert "Inscription à France Travail" not in await carnet_facts(partners, staff, beneficiary_id)


@pytest.mark.resilience
async def test_the_caf_down_gets_a_pending_answer_then_the_fact_once_it_is_back(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id, _ = await enrol_caf_person(partners, staff)
    await partners.switches("caf", fail_rate=1.0)

    response = await lookup(partners, staff, beneficiary_id, "caf")

    assert response.status_code == 202, response.text
    read = response.json()
    assert (read["status"], read["title"]) == ("pending", "La CAF ne répond pas pour l'instant")
    assert "apparaîtra dans la situation de la personne dès qu'elle arrivera" in read["message"]
    assert "Droit au RSA" not in await carnet_facts(partners, staff, beneficiary_id)
    assert (await partners.state("caf"))["traffic"]["failed"] >= 2

    await partners.switches("caf")  # the CAF is back
    facts: dict[str, Json] = {}
    for _ in range(120):
        facts = await carnet_facts(partners, staff, beneficiary_id)
        if "Droit au RSA" in facts:
            break
        await asyncio.sleep(0.25)
    assert facts["Droit au RSA"]["source"] == "caf"
    assert facts["Droit au RSA"]["value"].startswith("Droit ouvert et versable")
    # The answer came after the page stopped waiting: « À traiter » tells the référente.
    inbox = await partners.api.get("/api/v1/inbox", headers=staff.headers("referent"))
    assert [
        i["summary"]
        for i in inbox.json()["items"]
        if i["kind"] == "lookup_answered" and i["beneficiary_id"] == beneficiary_id
    ] == ["La CAF a répondu : sa réponse est dans le carnet."]


async def test_only_the_follow_up_group_with_write_rights_may_ask(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id, _ = await enrol_caf_person(partners, staff)

    async def ask(who: str) -> Any:
        return await partners.api.post(
            f"/api/v1/beneficiaries/{beneficiary_id}/lookups/caf", headers=staff.headers(who)
        )

    reads_only, outsider = await ask("orientation"), await ask("outsider")

    assert reads_only.status_code == 403
    assert reads_only.json()["detail"] == (
        "Votre rôle vous permet de lire ce carnet, pas de le modifier."
    )
    assert outsider.status_code == 404
    assert (await partners.state("caf"))["lookups"] == 0


# --- From the carnet's page -----------------------------------------------------------------


async def test_the_situation_tab_asks_the_caf_and_shows_what_came_back(
    partners: PartnerStack, staff: Staff
) -> None:
    beneficiary_id, _ = await enrol_caf_person(partners, staff)
    url = f"/beneficiaires/{beneficiary_id}/situation"
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = (await browser.get(url)).text
        assert "Demander à la CAF" in page
        found = REQUEST_ID.search(page)
        assert found is not None
        form = {"request_id": found.group(1)}

        answered = await browser.post(f"{url}/partenaires/caf", data=form)
        # A double click sends the same form again: the CAF is not asked twice.
        twice = await browser.post(f"{url}/partenaires/caf", data=form)

        assert answered.status_code == twice.status_code == 200
        assert "La CAF a répondu" in answered.text
        assert "Droit au RSA : Droit ouvert et versable" in answered.text
        table = (await browser.get(url)).text.split('id="situation-facts"')[1].split("</table>")[0]
        assert "Droit au RSA" in table and "Transmis par la CAF" in table
        assert (await partners.state("caf"))["lookups"] == 1


async def test_the_situation_tab_says_why_france_travail_was_not_asked(
    partners: PartnerStack, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    nir = unique_nir()
    await register_at_france_travail(partners, nir, "2345678C")
    beneficiary_id = await enrol(partners, staff, nir=nir)
    url = f"/beneficiaires/{beneficiary_id}/situation"
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = (await browser.get(url)).text
        assert "la personne n'a pas donné son accord au partage avec France Travail" in page

        refused = await browser.post(f"{url}/partenaires/france-travail")

        assert refused.status_code == 409
        assert "La personne n'a pas consenti au partage de ses données avec France Travail" in (
            html.unescape(refused.text)
        )
        assert (await partners.state("france-travail"))["searches"] == 0

        await consent(sessions, beneficiary_id)
        answered = await browser.post(f"{url}/partenaires/france-travail")

        assert answered.status_code == 200
        assert "France Travail a répondu" in answered.text
        assert 'id="france-travail-id">2345678C<' in answered.text


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[PlaywrightBrowser]:
    """Debian's Chromium, as ``tests/browser`` drives it."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} absent: `make test` installs Debian's chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.mark.browser
async def test_in_a_real_browser_the_referent_asks_the_caf_from_the_situation_tab(
    partners: PartnerStack, staff: Staff, chromium: PlaywrightBrowser
) -> None:
    beneficiary_id, _ = await enrol_caf_person(partners, staff)
    context = await chromium.new_context(
        base_url=partners.api_url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto("/connexion")
        await page.get_by_label("Adresse électronique").fill(staff["referent"].email)
        await page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/parcours"))
        await page.goto(f"/beneficiaires/{beneficiary_id}/situation")

        await page.get_by_role("button", name="Demander à la CAF").click()

        answer = page.locator("#resultat")
        await expect(answer.get_by_role("heading")).to_have_text("La CAF a répondu")
        await expect(answer).to_contain_text("Droit au RSA : Droit ouvert et versable")
        facts = page.locator("#situation-facts")
        await expect(facts.get_by_role("row", name=re.compile("Droit au RSA"))).to_contain_text(
            "Transmis par la CAF"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "carnet-recherche-caf.png", full_page=True)
    finally:
        await context.close()
