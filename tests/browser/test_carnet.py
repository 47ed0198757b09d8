"""Through a real browser: a référent records a diagnosis and sees the journey move; a
refused action keeps the form; the person withdraws a consent from their own space."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.repository import CarnetRepository
from tests.support.browser import PASSWORD, SCREENSHOTS, Carnet

pytestmark = pytest.mark.browser


async def sign_in(page: Page, email: str) -> None:
    """As a person does it, with the keyboard: type, Tab, type, Enter."""
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/(parcours|mon-espace)"))


def tab(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Onglets du carnet").get_by_role(
        "link", name=name, exact=True
    )


async def open_carnet(page: Page, carnet: Carnet) -> None:
    """From "Mes bénéficiaires": search the person, open their carnet."""
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mes bénéficiaires")
    await page.get_by_label("Nom ou prénom").fill(carnet.last_name)
    await page.get_by_role("button", name="Filtrer").click()
    await page.get_by_role("link", name=f"{carnet.first_name} {carnet.last_name}").click()
    await expect(page).to_have_url(
        re.compile(rf"/beneficiaires/{carnet.beneficiary_id}/situation$")
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{carnet.first_name} {carnet.last_name}"
    )


async def test_referent_records_a_diagnosis_and_sees_the_journey_move(
    page: Page, carnet: Carnet
) -> None:
    await sign_in(page, carnet.referent_email)
    await open_carnet(page, carnet)
    step = page.locator("#journey-step")
    await expect(step).to_have_text("Accueil")
    await expect(tab(page, "Situation")).to_have_attribute("aria-current", "page")

    await tab(page, "Diagnostic").click()
    await expect(tab(page, "Diagnostic")).to_have_attribute("aria-current", "page")
    await page.get_by_label("Synthèse du diagnostic").fill(
        "Souhaite reprendre un emploi dans la logistique ; pas de véhicule."
    )
    await page.get_by_label("Points d'appui").fill("Cariste pendant 4 ans, CACES 1 et 3.")
    # DSFR draws the box on the label: click it, or reach the box with the keyboard.
    await page.locator("label", has_text="Mobilité").click()
    await page.get_by_label("Logement").focus()
    await page.keyboard.press("Space")
    await expect(page.get_by_label("Mobilité")).to_be_checked()
    await expect(page.get_by_label("Logement")).to_be_checked()
    await page.get_by_role("button", name="Enregistrer le diagnostic").click()

    await expect(page.get_by_role("status")).to_have_text("Le diagnostic est enregistré.")
    await expect(step).to_have_text("Orientation")
    current = page.locator("#diagnostic-actuel")
    await expect(current).to_contain_text("pas de véhicule")
    await expect(current).to_contain_text("Mobilité")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "carnet-diagnostic.png", full_page=True)

    await tab(page, "Historique").click()
    history = page.locator("#historique > li > p.fr-text--bold")
    await expect(history.first).to_contain_text("Diagnostic enregistré")
    await expect(page.locator("#historique")).to_contain_text("Diagnostic validé")

    await tab(page, "Étapes du parcours").click()
    await expect(page).to_have_url(re.compile(rf"/parcours/{carnet.beneficiary_id}$"))
    newest = page.locator("#timeline > li").first
    await expect(newest).to_contain_text("Diagnostic validé")
    await expect(newest).to_contain_text("étape Orientation")
    await expect(step).to_have_text("Orientation")


async def test_a_refused_action_is_explained_and_keeps_what_was_typed(
    page: Page, carnet: Carnet
) -> None:
    await sign_in(page, carnet.referent_email)
    await page.goto(f"/beneficiaires/{carnet.beneficiary_id}/contrat")
    form = page.locator("#contrat-form")
    await form.locator("label", has_text="Contrat d'engagement réciproque (CER)").click()
    await form.get_by_label("Date de signature").fill("2025-03-14")
    await form.get_by_label("Heures d'activité par semaine").fill("15")

    async with page.expect_response(re.compile(r"/contrat$")) as answer:
        await form.get_by_role("button", name="Enregistrer le contrat").click()

    assert (await answer.value).status == 409
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("L'action n'a pas été enregistrée")
    await expect(alert).to_contain_text("Action possible seulement à l'étape « Accompagnement »")
    await expect(form.get_by_label("Contrat d'engagement réciproque (CER)")).to_be_checked()
    await expect(form.get_by_label("Date de signature")).to_have_value("2025-03-14")
    await expect(form.get_by_label("Heures d'activité par semaine")).to_have_value("15")
    await expect(page.locator("#journey-step")).to_have_text("Accueil")
    await expect(page.locator("#contrat-actuel")).to_have_count(0)


async def test_the_person_withdraws_a_consent_from_their_space(
    page: Page, carnet: Carnet, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sign_in(page, carnet.person_email)
    await expect(page).to_have_url(re.compile(r"/mon-espace$"))
    france_travail = page.locator("#partage-france_travail")
    state = france_travail.locator("#partage-france_travail-etat")
    await expect(state).to_contain_text("Pas d'accord")
    await expect(france_travail).to_contain_text("numéro de sécurité sociale")

    await france_travail.get_by_role("button", name="Donner mon accord à France Travail").click()
    await expect(page.get_by_role("status")).to_have_text("Votre choix de partage est enregistré.")
    await expect(state).to_contain_text("Accord donné")

    await france_travail.get_by_role("button", name="Retirer mon accord à France Travail").click()

    await expect(page.get_by_role("status")).to_have_text("Votre choix de partage est enregistré.")
    await expect(state).to_contain_text("Accord retiré")
    await expect(
        france_travail.get_by_role("button", name="Donner mon accord à France Travail")
    ).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "mon-espace.png", full_page=True)
    async with sessions() as session:
        consents = await CarnetRepository(session).consents(carnet.beneficiary_id)
    assert consents["france_travail"].granted is False
