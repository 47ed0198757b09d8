"""Through a real browser: an orientation refused for a missing consent links to the carnet's
consent form with the structures chosen; the référente records the consent on paper with the
signed form, the header shows it, and the way back leads to the refused orientation."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.async_api import FilePayload, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.browser import PASSWORD, SCREENSHOTS, Carnet
from tests.support.carnet import PDF
from tests.support.resources import add_service

pytestmark = [pytest.mark.browser, pytest.mark.notifications]


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/(parcours|mon-espace)"))


async def test_the_refusals_link_leads_to_the_consent_form_with_the_partner_chosen(
    page: Page, carnet: Carnet, sessions: async_sessionmaker[AsyncSession]
) -> None:
    resource = await add_service(sessions)
    bid = carnet.beneficiary_id
    await sign_in(page, carnet.referent_email)
    await page.goto(f"/beneficiaires/{bid}/situation")
    structures = page.locator("#consent-structures")
    await expect(structures).to_contain_text("Structures : pas encore demandé")
    # Orientations start with the diagnosis.
    await page.get_by_role("button", name="Commencer le diagnostic").click()
    await expect(page.locator("#journey-step")).to_have_text("Diagnostic")

    service = f"/ressources/services/{resource.service_id}?pour={bid}"
    await page.goto(service)
    await page.get_by_role("button", name="Orienter vers ce service").click()
    await expect(page.locator("#resultat")).to_contain_text(
        "n'a pas donné son accord pour que ses coordonnées soient transmises aux structures"
    )
    await page.get_by_role(
        "link", name="Enregistrer son accord de partage avec les structures"
    ).click()

    await expect(page).to_have_url(
        re.compile(
            rf"/beneficiaires/{bid}/consentements\?partenaire=structures"
            rf"&retour={re.escape(quote(service, safe=''))}#consentement-form$"
        )
    )
    form = page.locator("#consentement-form")
    await expect(form.get_by_label("Structures (orientations vers un service)")).to_be_checked()
    await expect(form.get_by_label("Région (financement des formations)")).not_to_be_checked()
    await expect(form.get_by_role("radio", name="Donne son accord", exact=True)).to_be_checked()

    await form.locator('label[for="consentement-method-paper"]').click()
    signed: FilePayload = {
        "name": "accord-structures.pdf",
        "mimeType": "application/pdf",
        "buffer": PDF,
    }
    await form.locator("#consentement-file").set_input_files(files=[signed])
    await form.get_by_role("button", name="Enregistrer le consentement").click()

    await expect(page.get_by_role("status")).to_contain_text("Le consentement est enregistré")
    await expect(structures).to_contain_text("Structures : donné le")
    await expect(structures).to_contain_text("sur papier signé")
    await expect(structures.get_by_role("link", name="formulaire signé")).to_have_attribute(
        "href", re.compile(rf"/beneficiaires/{bid}/documents/")
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "carnet-consentements.png", full_page=True)

    # Back to the orientation that was refused, the person still chosen.
    await page.get_by_role("link", name="Revenir à la demande refusée faute d'accord").click()
    await expect(page).to_have_url(re.compile(rf"/ressources/services/{resource.service_id}\?"))
    await expect(page.get_by_label("Personne à orienter")).to_have_value(bid)
