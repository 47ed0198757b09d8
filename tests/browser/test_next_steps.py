"""Through a real browser: at the orientation step, the référente reads in « Et maintenant ? »
that the chargé·es d'orientation decide, clicks « Demander une décision d'orientation », and
sees the confirmation in view with the focus on it; the panel then says when she asked and no
longer offers to ask again."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import BeginDiagnosisInput, CompleteDiagnosisInput
from parcours.journey.service import JourneyService
from tests.support.browser import PASSWORD, SCREENSHOTS, Carnet

pytestmark = [pytest.mark.browser, pytest.mark.notifications]


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/connexion")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/parcours"))


async def test_the_referente_asks_for_the_orientation_decision_and_sees_it_sent(
    page: Page,
    carnet: Carnet,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:
    async with transaction(sessions) as session:
        journeys = JourneyService(session, dev_env.client, settings)
        await journeys.act(carnet.beneficiary_id, BeginDiagnosisInput())
        await journeys.act(carnet.beneficiary_id, CompleteDiagnosisInput())
    await sign_in(page, carnet.referent_email)
    await page.goto(f"/beneficiaires/{carnet.beneficiary_id}/situation")

    next_steps = page.get_by_role("region", name="Et maintenant ?")
    await expect(next_steps).to_contain_text(re.compile(r"décident? de l'orientation"))
    ask = next_steps.get_by_role("button", name="Demander une décision d'orientation")
    await expect(ask).to_be_visible()
    await ask.click()

    await expect(page).to_have_url(
        re.compile(rf"/beneficiaires/{carnet.beneficiary_id}/situation\?fait=\w+#resultat$")
    )
    result = page.locator("#resultat")
    await expect(result).to_contain_text("Demande envoyée")
    await expect(result).to_be_focused()
    box, size = await result.bounding_box(), page.viewport_size
    assert box is not None and size is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], box
    await expect(next_steps.locator("#demande-decision")).to_contain_text(
        "Demande de décision d'orientation envoyée le"
    )
    await expect(
        next_steps.get_by_role("button", name="Demander une décision d'orientation")
    ).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "et-maintenant-demande.png", full_page=True)
