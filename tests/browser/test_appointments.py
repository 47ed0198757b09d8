"""Through a real browser, on a phone's screen: the person opens the link of her invitation,
without an account, picks a slot and confirms; the page shows her appointment, which she may
still move or cancel; the workflow has it booked. A link nobody knows is a French 404."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.support.api import enrol
from tests.support.appointments import booking_link
from tests.support.clients import ApiClients
from tests.support.training_requests import until

pytestmark = [pytest.mark.browser, pytest.mark.appointments]


async def test_the_person_books_from_her_link_on_her_phone(
    browser: Browser, app_url: str, api: ApiClients
) -> None:
    person_id = await enrol(api.referent)
    token = await booking_link(api, person_id, kind="orientation")
    context = await browser.new_context(
        base_url=app_url,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        java_script_enabled=False,
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto(f"/rdv/{token}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Rendez-vous d'orientation")
        # A slot each day at 10:00: the third one is more than 24 hours away, still movable.
        radio = page.locator("#creneaux input[type=radio]").nth(2)
        label = page.locator("#creneaux label").nth(2)
        chosen = await label.inner_text()
        await label.click()
        await expect(radio).to_be_checked()
        await page.get_by_role("button", name="Confirmer ce rendez-vous").click()
        await expect(page.get_by_text("Votre rendez-vous est confirmé")).to_be_visible()
        await expect(page.locator("#mon-rendez-vous")).to_contain_text("Rendez-vous pris")
        await expect(page.locator("#mon-rendez-vous")).to_contain_text(chosen.split("\n")[0])
        await expect(page.get_by_role("button", name="Annuler mon rendez-vous")).to_be_visible()

        async def booked() -> list[dict[str, object]] | None:
            found = await api.referent.get(f"/api/v1/beneficiaries/{person_id}/appointments")
            listed: list[dict[str, object]] = found.json()
            return listed if listed and listed[0]["status"] == "booked" else None

        (appointment,) = await until(booked)
        assert appointment["status_label"] == "Rendez-vous pris"

        missing = await page.goto("/rdv/un-lien-inconnu")
        assert missing is not None and missing.status == 404
        await expect(page.get_by_text("Ce lien de rendez-vous n'existe pas")).to_be_visible()
    finally:
        await context.close()
