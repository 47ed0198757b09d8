"""axe-core (the npm package, injected into the page from node_modules) finds no violation on a
page of each role: the référente's carnet, the chargée d'orientation's journey, the funder's
console, the manager's stalled journeys, the administrator's console, the person's own space,
and the error page; the appointment pages (the carnet's tab, the agenda, places and slots, the
person's booking page); the référente's « Et maintenant ? » at the orientation step, before and
after she asked for the decision; on a phone too, with the menu open."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.access.rules import Principal, Role
from parcours.appointments.messages import AppointmentKind
from parcours.appointments.schemas import InvitationCreate, PlaceCreate, SlotCreate
from parcours.appointments.service import AppointmentService
from parcours.core.db import transaction
from parcours.core.settings import ROOT, Settings
from parcours.journey.messages import BeginDiagnosisInput, CompleteDiagnosisInput
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from tests.support.accounts import STAFF_PASSWORD, NewAccount, Staff
from tests.support.browser import PASSWORD, Carnet
from tests.support.training_requests import funder_account

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


async def violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong on the page as it stands (every rule it runs by default)."""
    if not AXE.exists():
        pytest.skip("axe-core absent: `npm ci` installs the dev dependencies")
    await page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


async def open_as(browser: Browser, app_url: str, email: str, password: str, path: str) -> Page:
    # axe-core is injected as an inline script, which the pages' CSP refuses (as it should).
    context = await browser.new_context(
        base_url=app_url, locale="fr-FR", timezone_id="Europe/Paris", bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/(parcours|mon-espace|financeurs|gestion|admin)"))
    await page.goto(path)
    # DSFR's script has run (it rewrites the header's menu and the tables).
    await page.locator("html[data-fr-js='true']").wait_for(state="attached")
    return page


async def test_a_page_of_each_role_has_no_violation(
    browser: Browser,
    app_url: str,
    carnet: Carnet,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:
    async with transaction(sessions) as session:
        enrolment = await JourneyService(session, dev_env.client, settings).enrol(
            BeneficiaryCreate(
                first_name="Inès",
                last_name="Accessible",
                birth_date=date(1988, 2, 3),
                postal_code="73000",
                city="Chambéry",
                territory="73",
                rsa_opened_on=date.today(),
                referent_id=staff.referent_id,
                structure_id=staff.structure_id,
            ),
            # Enrolled by the chargée d'orientation: « À traiter » of the référente has it.
            actor_id=staff.orientation_id,
        )
    followed = enrolment.beneficiary.id
    # Two people at the orientation step: the référente asks the decision for the second.
    at_orientation = []
    for first_name in ("Oriane", "Octave"):
        async with transaction(sessions) as session:
            journeys = JourneyService(session, dev_env.client, settings)
            person = await journeys.enrol(
                BeneficiaryCreate(
                    first_name=first_name,
                    last_name="Accessible",
                    birth_date=date(1991, 4, 5),
                    territory="73",
                    rsa_opened_on=date.today(),
                    referent_id=staff.referent_id,
                    structure_id=staff.structure_id,
                ),
                actor_id=staff.referent_id,
            )
        async with transaction(sessions) as session:
            journeys = JourneyService(session, dev_env.client, settings)
            await journeys.act(person.beneficiary.id, BeginDiagnosisInput())
            await journeys.act(person.beneficiary.id, CompleteDiagnosisInput())
        at_orientation.append(person.beneficiary.id)
    referente = Principal(
        id=staff.referent_id,
        role=Role.REFERENT,
        full_name="Referent 1",
        territory="73",
        structure_id=staff.structure_id,
    )
    async with transaction(sessions) as session:
        await JourneyService(session, dev_env.client, settings).ask_orientation_decision(
            at_orientation[1], referente
        )
    # The structure's place and slots, and an invitation: the appointment pages have content.
    async with transaction(sessions) as session:
        desk = AppointmentService(session, dev_env.client, settings, referente)
        place = await desk.add_place(
            PlaceCreate(name="Accueil", address="1 rue de la Gare", accessibility="Plain-pied")
        )
        for weekday in range(7):
            await desk.add_slot(
                SlotCreate(
                    place_id=place.id,
                    kind=AppointmentKind.ORIENTATION,
                    start_time=time(10, 0),
                    weekday=weekday,
                )
            )
    async with transaction(sessions) as session:
        invitation = await AppointmentService(session, dev_env.client, settings, referente).invite(
            InvitationCreate(beneficiary_id=at_orientation[0], kind=AppointmentKind.ORIENTATION)
        )
    region = await funder_account(sessions, new_account, "region")
    pages = {
        "référente": (carnet.referent_email, PASSWORD, f"/beneficiaires/{carnet.beneficiary_id}"),
        "chargée d'orientation": (
            staff["orientation"].email,
            STAFF_PASSWORD,
            f"/parcours/{followed}",
        ),
        "à traiter": (staff["referent"].email, STAFF_PASSWORD, "/a-traiter"),
        "mes notifications": (staff["referent"].email, STAFF_PASSWORD, "/mon-compte/notifications"),
        "financeur": (region.email, STAFF_PASSWORD, "/financeurs/demandes"),
        "responsable": (staff["manager"].email, STAFF_PASSWORD, "/gestion/bloques"),
        "administrateur": (staff["admin"].email, STAFF_PASSWORD, "/admin/structures"),
        # Three people match « Accessible »: the choice among them, and their accesses.
        "journal des accès": (
            staff["admin"].email,
            STAFF_PASSWORD,
            "/admin/journal-des-acces?person=Accessible",
        ),
        "personne": (carnet.person_email, PASSWORD, "/mon-espace"),
        "page d'erreur": (carnet.referent_email, PASSWORD, "/nimporte-quoi"),
        "référente, orientation à demander": (
            staff["referent"].email,
            STAFF_PASSWORD,
            f"/beneficiaires/{at_orientation[0]}/situation",
        ),
        "référente, décision demandée": (
            staff["referent"].email,
            STAFF_PASSWORD,
            f"/parcours/{at_orientation[1]}",
        ),
        "rendez-vous du carnet": (
            staff["referent"].email,
            STAFF_PASSWORD,
            f"/beneficiaires/{at_orientation[0]}/rendez-vous",
        ),
        "agenda": (staff["referent"].email, STAFF_PASSWORD, "/rendez-vous/agenda"),
        "lieux et créneaux": (
            staff["referent"].email,
            STAFF_PASSWORD,
            "/rendez-vous/lieux-et-creneaux",
        ),
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for role, (email, password, path) in pages.items():
        page = await open_as(browser, app_url, email, password, path)
        try:
            found[role] = await violations(page)
        finally:
            await page.context.close()
    # The person's booking page: no account.
    context = await browser.new_context(
        base_url=app_url, locale="fr-FR", timezone_id="Europe/Paris", bypass_csp=True
    )
    booking = await context.new_page()
    await booking.goto("/rdv/" + invitation.link.rsplit("/", 1)[1])
    await booking.locator("html[data-fr-js='true']").wait_for(state="attached")
    try:
        found["prise de rendez-vous"] = await violations(booking)
    finally:
        await context.close()
    assert found == {role: [] for role in [*pages, "prise de rendez-vous"]}, found


async def test_the_open_menu_on_a_phone_has_no_violation(
    browser: Browser, app_url: str, carnet: Carnet
) -> None:
    page = await open_as(browser, app_url, carnet.referent_email, PASSWORD, "/parcours")
    try:
        await page.set_viewport_size({"width": 375, "height": 740})
        await page.get_by_role("button", name="Menu").click()
        await (
            page.locator("#menu-principal").get_by_role("button", name="Se déconnecter").wait_for()
        )
        assert await violations(page) == []
    finally:
        await page.context.close()
