"""Through a real browser, on the partner stack (the app, its worker and the simulators): a
référent requests a training from its page, the Région's funder asks a question from the
console, the référent answers in the carnet, the funder approves; the carnet shows the entry
into training."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Beneficiary
from parcours.training_requests.models import TrainingRequestRecord
from tests.support.accounts import STAFF_PASSWORD, NewAccount, Staff
from tests.support.browser import SCREENSHOTS
from tests.support.partners import PartnerStack
from tests.support.training_requests import add_training, follow, funder_account, until

pytestmark = pytest.mark.browser


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    # Each role lands on its own home page (a funder on the requests addressed to them).
    await page.wait_for_url(re.compile(r"/(parcours|financeurs)"))


async def test_a_training_requested_asked_about_answered_and_approved(
    browser: Browser,
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    staff: Staff,
    new_account: NewAccount,
) -> None:
    region = await funder_account(sessions, new_account, "region")
    person_id = await follow(
        sessions, partners.client, partners.settings, staff, consents=("region",)
    )
    training_id = await add_training(sessions, "region")
    async with sessions() as session:
        person = await session.get(Beneficiary, person_id)
        assert person is not None
        name = f"{person.first_name} {person.last_name}"
    contexts = [
        await browser.new_context(
            base_url=partners.api_url, locale="fr-FR", timezone_id="Europe/Paris"
        )
        for _ in range(2)
    ]
    for context in contexts:
        context.set_default_timeout(15_000)
    referent, funder = [await context.new_page() for context in contexts]
    try:
        # The référent, from the training's page, for the person they follow.
        await sign_in(referent, staff["referent"].email)
        await referent.goto(f"/ressources/formations/{training_id}?pour={person_id}")
        form = referent.locator("#demande")
        await form.get_by_label("Coût de la formation (€)").fill("1 850,50")
        await form.get_by_label("Message au financeur").fill("Projet validé, permis en cours.")
        await form.get_by_role("button", name="Demander cette formation").click()
        await expect(referent).to_have_url(re.compile(rf"/beneficiaires/{person_id}/contrat"))
        section = referent.locator("#formations")
        await expect(section.get_by_role("status")).to_have_text(
            "La demande de formation est envoyée au financeur."
        )
        await expect(section.locator(".parcours-request-status")).to_have_text(
            "En attente de décision"
        )
        async with sessions() as session:
            request_id = await session.scalar(
                select(TrainingRequestRecord.id).where(
                    TrainingRequestRecord.beneficiary_id == person_id
                )
            )
        assert request_id is not None

        async def received() -> str | None:
            async with sessions() as session:
                found = await session.get(TrainingRequestRecord, request_id)
                return found.funder_reference if found and found.sent_at else None

        # The Région's system gave its file number on receipt.
        reference = await until(received)

        # The Région's funder, from the console's link in the menu.
        await sign_in(funder, region.email)
        # A funder follows no one: no "Mes bénéficiaires" in their menu.
        await expect(funder.get_by_role("link", name="Mes bénéficiaires")).to_have_count(0)
        await funder.get_by_role("link", name="Demandes de formation").click()
        await expect(funder.get_by_role("heading", level=1)).to_have_text(
            "Demandes de formation adressées à la Région"
        )
        await funder.locator("#demandes").get_by_role("link", name=name, exact=True).click()
        await expect(funder.locator("#personne")).to_contain_text(name)
        await expect(funder.locator("#echanges")).to_contain_text("Projet validé, permis en cours.")
        question = funder.locator("#informations")
        await question.get_by_label("Votre question").fill("A-t-elle déjà travaillé en cuisine ?")
        await question.get_by_role("button", name="Envoyer la question").click()
        await expect(funder.get_by_role("status")).to_have_text(
            "Votre question est envoyée au référent."
        )
        await expect(funder.locator("#statut-demande")).to_have_text("Informations demandées")

        # The référent answers in the carnet.
        await referent.goto(f"/beneficiaires/{person_id}/contrat")
        await expect(section).to_contain_text("A-t-elle déjà travaillé en cuisine ?")
        await section.get_by_label("Votre réponse au financeur").fill(
            "Oui, deux saisons à Val Thorens."
        )
        await section.get_by_role("button", name="Répondre au financeur").click()
        await expect(section.get_by_role("status")).to_contain_text(
            "Votre réponse est transmise au financeur"
        )

        # The funder approves: start date and amount as requested; their reference, which
        # their system gave, is shown and not asked again.
        await funder.reload()
        await expect(funder.locator("#echanges")).to_contain_text("deux saisons à Val Thorens")
        approval = funder.locator("#accord")
        start = date.today() + timedelta(days=40)
        await approval.get_by_label("Date de début").fill(start.isoformat())
        await expect(approval.get_by_label("Montant accordé (€)")).to_have_value("1850.50")
        await expect(approval.get_by_label("Votre référence")).to_have_count(0)
        await expect(approval.locator("#accord-reference")).to_contain_text(reference)
        await approval.get_by_role("button", name="Accorder").click()
        await expect(funder.get_by_role("status")).to_contain_text("La formation est accordée")
        await expect(funder.locator("#statut-demande")).to_have_text("Accordée")
        await expect(funder.locator("#demande")).to_contain_text(reference)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await funder.screenshot(path=SCREENSHOTS / "financeur-demande.png", full_page=True)

        # The carnet shows the entry into training, in the plan too.
        await referent.goto(f"/beneficiaires/{person_id}/contrat")
        await expect(section.locator(".parcours-request-status")).to_have_text("Accordée")
        await expect(section).to_contain_text(f"début le {start.strftime('%d/%m/%Y')}")
        await expect(referent.locator("#plan")).to_contain_text("Suivre la formation")
        await referent.screenshot(path=SCREENSHOTS / "carnet-formation.png", full_page=True)
    finally:
        for context in contexts:
            await context.close()
