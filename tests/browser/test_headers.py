"""The pages keep working under their Content-Security-Policy: DSFR's script runs (menu,
tabs), the charts keep their colours, and the browser reports no refused script, style or
image on a page of each kind; every answer carries the security headers and no page with
personal data may be cached."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage

from tests.support.accounts import STAFF_PASSWORD, Staff
from tests.support.browser import PASSWORD, Carnet

pytestmark = [pytest.mark.browser, pytest.mark.security]


async def test_dsfr_and_the_pages_run_under_the_csp_without_a_refusal(
    browser: Browser, app_url: str, carnet: Carnet, staff: Staff
) -> None:
    context = await browser.new_context(base_url=app_url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    try:
        await page.goto("/connexion")
        await page.get_by_label("Adresse électronique").fill(carnet.referent_email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_url(re.compile(r"/parcours"))
        for path in (
            "/parcours",
            f"/beneficiaires/{carnet.beneficiary_id}",
            "/ressources",
            "/nimporte-quoi",
        ):
            await page.goto(path)
            # DSFR's script ran: it marks the page once it has enhanced it.
            await page.locator("html[data-fr-js='true']").wait_for(state="attached")
    finally:
        await context.close()

    # The manager's indicators draw SVG charts: their colours come from the stylesheet.
    context = await browser.new_context(base_url=app_url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    page.on("console", on_console)
    try:
        await page.goto("/connexion")
        await page.get_by_label("Adresse électronique").fill(staff["manager"].email)
        await page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_url(re.compile(r"/(parcours|gestion)"))
        await page.goto("/gestion/indicateurs")
        await page.locator("html[data-fr-js='true']").wait_for(state="attached")
        bars = page.locator("main svg[role=img] rect")
        assert await bars.count() > 0
        fill = await bars.first.evaluate("r => getComputedStyle(r).fill")
        assert fill not in ("", "rgb(0, 0, 0)", "none"), fill
    finally:
        await context.close()
    assert refused == []


async def test_every_answer_carries_the_security_headers(app_url: str, carnet: Carnet) -> None:
    async with httpx.AsyncClient(base_url=app_url) as http:
        page = await http.get("/connexion")
        api = await http.get("/api/v1/journeys")  # refused without a token: headers all the same
        asset = await http.get("/static/app/parcours.css")
    for answer in (page, api, asset):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
    # Pages and API answers never stay in a cache; the static assets may.
    assert page.headers["cache-control"] == "no-store"
    assert api.headers["cache-control"] == "no-store"
    assert asset.headers.get("cache-control") != "no-store"
