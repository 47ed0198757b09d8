"""Through a real browser, what every page shares: the header on a phone (the « Menu » button
opens the navigation with the signed-in name and « Se déconnecter », and still shows them with
no script at all), the result of an action brought into view with the focus on it (a refusal,
a success), the French error pages (an unknown address; the JSON API keeps JSON), the État's
favicon."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import BeginDiagnosisInput
from parcours.journey.service import JourneyService
from tests.support.browser import PASSWORD, SCREENSHOTS, Carnet
from tests.support.resources import add_service

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 375, "height": 740}


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/(parcours|mon-espace)"))


async def phone(browser: Browser, app_url: str, *, scripts: bool = True) -> Page:
    context = await browser.new_context(
        base_url=app_url,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport=PHONE,
        java_script_enabled=scripts,
    )
    context.set_default_timeout(15_000)
    return await context.new_page()


async def in_view_with_focus(page: Page, result: Locator) -> None:
    """The result is drawn inside the window, and has the focus (or holds it)."""
    await expect(result).to_be_focused()
    box = await result.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], box
    assert await page.evaluate(
        "() => { const r = document.getElementById('resultat');"
        " return r === document.activeElement || r.contains(document.activeElement); }"
    )


async def test_on_a_phone_the_menu_shows_who_is_signed_in_and_signs_out(
    browser: Browser, app_url: str, carnet: Carnet
) -> None:
    page = await phone(browser, app_url)
    try:
        await sign_in(page, carnet.referent_email)
        menu = page.locator("#menu-principal")
        # Below 992 px the tools are behind « Menu » (DSFR's script has run).
        await expect(page.locator("html")).to_have_attribute("data-fr-js", "true")
        await expect(page.locator("#signed-in-as")).to_be_hidden()
        await expect(menu.get_by_role("button", name="Se déconnecter")).to_be_hidden()

        await page.get_by_role("button", name="Menu").click()
        await expect(menu).to_be_visible()
        await expect(menu.locator("#signed-in-as-mobile")).to_have_text(
            re.compile(r"Référente Navigateur")
        )
        await expect(menu.get_by_role("link", name="Mes bénéficiaires")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "menu-375px.png")

        await menu.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url(re.compile(r"/connexion"))
        await page.goto("/parcours")
        await expect(page).to_have_url(re.compile(r"/connexion\?next=%2Fparcours"))
    finally:
        await page.context.close()


async def test_on_a_phone_without_script_the_name_and_sign_out_stay_in_the_page(
    browser: Browser, app_url: str, carnet: Carnet
) -> None:
    page = await phone(browser, app_url, scripts=False)
    try:
        await sign_in(page, carnet.referent_email)
        menu = page.locator("#menu-principal")
        await expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        await expect(menu.locator("#signed-in-as-mobile")).to_be_visible()
        await expect(menu.get_by_role("link", name="Mes bénéficiaires")).to_be_visible()
        await page.screenshot(path=SCREENSHOTS / "menu-375px-sans-script.png")
        await menu.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url(re.compile(r"/connexion"))
    finally:
        await page.context.close()


async def test_a_refused_orientation_comes_into_view_with_the_focus(
    page: Page,
    carnet: Carnet,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:
    """The person never agreed to share with the structures: the orientation is refused, and
    the reason is where the eyes and the screen reader are, not 900 px down the page."""
    long = "Un scooter loué 2 € par jour pour aller en formation ou au travail. " * 12
    service_id = (
        await add_service(sessions, nom="Location de scooter", description=long)
    ).service_id
    async with transaction(sessions) as session:
        await JourneyService(session, dev_env.client, settings).act(
            carnet.beneficiary_id, BeginDiagnosisInput()
        )
    await sign_in(page, carnet.referent_email)
    await page.goto(f"/ressources/services/{service_id}?pour={carnet.beneficiary_id}")
    form = page.locator("#orienter-form")
    await expect(form.get_by_label("Personne à orienter")).to_have_value(carnet.beneficiary_id)
    await form.get_by_role("button", name="Orienter vers ce service").click()

    result = page.locator("#resultat")
    await expect(result).to_have_attribute("role", "alert")
    await expect(result).to_contain_text("n'a pas donné son accord")
    await in_view_with_focus(page, result)
    # Still the page for this person: the way back is to the search for them.
    await expect(page.get_by_role("link", name="Retour à la recherche")).to_have_attribute(
        "href", f"/ressources?pour={carnet.beneficiary_id}"
    )


async def test_a_refused_carnet_form_comes_into_view_with_the_focus(
    page: Page, carnet: Carnet
) -> None:
    await sign_in(page, carnet.referent_email)
    await page.goto(f"/beneficiaires/{carnet.beneficiary_id}/contrat")
    form = page.locator("#contrat-form")
    await form.locator("label", has_text="Contrat d'engagement réciproque (CER)").click()
    await form.get_by_label("Date de signature").fill("2025-03-14")
    await form.get_by_label("Heures d'activité par semaine").fill("15")
    await form.get_by_role("button", name="Enregistrer le contrat").click()

    result = page.locator("#resultat")
    await expect(result).to_contain_text("Action possible seulement à l'étape « Accompagnement »")
    await in_view_with_focus(page, result)


async def test_without_script_a_refusal_still_takes_the_focus(
    browser: Browser, app_url: str, carnet: Carnet
) -> None:
    """No script at all: the alert's ``autofocus`` alone brings it into view with the focus."""
    page = await phone(browser, app_url, scripts=False)
    try:
        await sign_in(page, carnet.referent_email)
        await page.goto(f"/beneficiaires/{carnet.beneficiary_id}/contrat")
        form = page.locator("#contrat-form")
        await form.locator("label", has_text="Contrat d'engagement réciproque (CER)").click()
        await form.get_by_label("Date de signature").fill("2025-03-14")
        await form.get_by_label("Heures d'activité par semaine").fill("15")
        await form.get_by_role("button", name="Enregistrer le contrat").click()
        result = page.locator("#resultat")
        await expect(result).to_contain_text("Action possible seulement")
        await in_view_with_focus(page, result)
    finally:
        await page.context.close()


async def test_a_success_far_down_the_page_comes_into_view_with_the_focus(
    page: Page, carnet: Carnet
) -> None:
    """The person's consent is at the bottom of their space: its confirmation is not left
    2,000 px above the window, and a link leads back to the section."""
    await sign_in(page, carnet.person_email)
    share = page.locator("#partage-france_travail")
    await share.get_by_role("button", name="Donner mon accord à France Travail").click()

    result = page.locator("#resultat")
    await expect(result).to_have_text("Votre choix de partage est enregistré.")
    await expect(page).to_have_url(re.compile(r"/mon-espace\?fait=partage#resultat$"))
    await in_view_with_focus(page, result)
    await page.get_by_role("link", name="Revenir à « Partage de mes données »").click()
    await expect(share.locator("#partage-france_travail-etat")).to_contain_text("Accord donné")


async def test_an_unknown_page_answers_a_french_404_and_the_api_json(
    page: Page, carnet: Carnet
) -> None:
    await sign_in(page, carnet.referent_email)
    answer = await page.goto("/nimporte-quoi")
    assert answer is not None
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page non trouvée")
    await expect(page.locator("#erreur-message")).to_have_text(
        "La page que vous cherchez est introuvable."
    )
    # Still signed in: the header says who, the way home is there.
    await expect(page.locator("#signed-in-as")).to_contain_text("Référente Navigateur")
    await expect(page.get_by_role("link", name="Page d'accueil")).to_have_attribute("href", "/")

    api = await page.request.get("/api/v1/nimporte-quoi")
    assert api.status == 404
    assert await api.json() == {"detail": "Cette adresse n'existe pas dans l'API."}


async def test_the_favicon_is_the_etats(page: Page, app_url: str) -> None:
    await page.goto("/connexion")
    icons = page.locator('link[rel~="icon"]')
    await expect(icons.first).to_have_attribute("href", "/static/dsfr/favicon/favicon.svg")
    for href in await icons.evaluate_all("links => links.map(l => l.getAttribute('href'))"):
        assert (await page.request.get(href)).ok, href
    classic = await page.request.get("/favicon.ico")
    assert classic.ok and classic.headers["content-type"] == "image/x-icon"
