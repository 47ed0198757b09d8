"""Through a real browser, on the partner stack: the référente sees « À traiter » with its count
in the header, opens it, follows the funder's question to where she answers it, answers, and
the item leaves her list."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Beneficiary
from tests.support.accounts import STAFF_PASSWORD, NewAccount, Staff
from tests.support.browser import SCREENSHOTS
from tests.support.partners import PartnerStack
from tests.support.training_requests import add_training, follow, funder_account, until

pytestmark = [pytest.mark.browser, pytest.mark.notifications]


async def test_the_referente_sees_her_count_and_acts_from_an_item(
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
    referent_api = httpx.AsyncClient(
        base_url=partners.api_url, headers=staff["referent"].headers, timeout=60
    )
    funder_api = httpx.AsyncClient(base_url=partners.api_url, headers=region.headers, timeout=60)
    try:
        created = await referent_api.post(
            "/api/v1/training-requests",
            json={"beneficiary_id": person_id, "training_id": training_id},
        )
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]

        async def received() -> bool | None:
            state = await partners.state("region")
            held = state["training_requests"]
            return True if [r for r in held if r["request"]["request_id"] == request_id] else None

        await until(received)
        asked = await funder_api.post(
            f"/api/v1/funder/training-requests/{request_id}/more-info",
            json={"question": "Quelles sont ses disponibilités ?"},
        )
        assert asked.status_code == 200, asked.text

        async def questioned() -> int | None:
            items = (await referent_api.get("/api/v1/inbox")).json()["items"]
            asks = [i for i in items if i["kind"] == "training_question" and i["ref"] == request_id]
            return len(items) if asks else None

        count = await until(questioned)
    finally:
        await referent_api.aclose()
        await funder_api.aclose()

    context = await browser.new_context(
        base_url=partners.api_url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto("/connexion")
        await page.get_by_label("Adresse électronique").fill(staff["referent"].email)
        await page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_url(re.compile(r"/parcours"))

        # « À traiter » in the header, with her count; on her home page too.
        header_link = page.locator("header .fr-header__tools #a-traiter-lien")
        await expect(header_link).to_contain_text("À traiter")
        await expect(header_link.locator(".parcours-inbox-count")).to_have_text(str(count))
        await expect(page.locator("#a-traiter-titre")).to_have_text(f"À traiter ({count})")
        await header_link.click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("À traiter")
        item = page.locator(".parcours-inbox-item[data-kind='training_question']")
        await expect(item).to_contain_text(name)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "a-traiter.png", full_page=True)

        # The item leads to where she answers.
        await item.get_by_role("link", name=re.compile("^Répondre au financeur")).click()
        await expect(page).to_have_url(
            re.compile(rf"/beneficiaires/{person_id}/contrat#demande-{request_id}$")
        )
        request = page.locator(f"#demande-{request_id}")
        await request.get_by_label("Votre réponse au financeur").fill("Tous les matins.")
        await request.get_by_role("button", name="Répondre au financeur").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Votre réponse est transmise au financeur"
        )

        # Answered: the item leaves her list (once the journey recorded the answer).
        async def left() -> bool | None:
            await page.goto("/a-traiter")
            found = page.locator(".parcours-inbox-item[data-kind='training_question']")
            return True if await found.count() == 0 else None

        assert await until(left)
        await expect(header_link.locator(".parcours-inbox-count")).to_have_text(str(count - 1))
    finally:
        await context.close()
