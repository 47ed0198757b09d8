"""The "Imports CAF" page: an administrator or a manager sends a CAF feed file, follows its
import and reads each rejected line with its reason; and ``make run``'s demo feed, imported
through the same workflow once, whose people the partner simulators know."""

from __future__ import annotations

import asyncio
import html
import os
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from demo.seed import DEMO_FEED_PREFIX, demo_feed_summary, seed_caf_feed
from parcours.carnet.models import Beneficiary, Consent
from parcours.journey.models import JourneyRecord
from tests.support.accounts import NewAccount, Staff
from tests.support.caf_feed import feed_file, fresh_seed
from tests.support.clients import Browser, signed_in
from tests.support.partners import PartnerStack

ROW = re.compile(r"<tr><td>(\d+)</td><td>([^<]*)</td></tr>")


async def finished(browser: Browser, url: str) -> str:
    """The import's page once the import is over."""
    page = ""
    for _ in range(300):
        page = html.unescape((await browser.get(url)).text)
        if '<strong id="import-status">Terminé</strong>' in page:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"import not finished: {page}")


def rejected_lines(page: str) -> dict[int, str]:
    table = page.split('id="rejected-lines"')[1].split("</table>")[0]
    return {int(line): reason for line, reason in ROW.findall(table)}


async def test_an_uploaded_feed_is_imported_with_each_rejected_line_and_its_reason(
    partners: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    path, expected = await feed_file(sessions, tmp_path, 30, malformed=4)
    async with signed_in(partners.api_url, staff["admin"].email) as browser:
        page = (await browser.get("/imports-caf")).text
        assert 'href="/imports-caf" aria-current="page">Imports CAF' in page
        assert 'enctype="multipart/form-data"' in page

        sent = await browser.post(
            "/imports-caf", files={"fichier": (path.name, path.read_bytes(), "text/csv")}
        )

        assert sent.status_code == 303, sent.text
        url = sent.headers["location"].split("?")[0]
        assert (
            "Le fichier est déposé : son import est lancé."
            in (await browser.get(sent.headers["location"])).text
        )
        page = await finished(browser, url)
        assert '<strong id="import-processed">30 / 30</strong>' in page
        rejects = rejected_lines(page)
        assert set(rejects) == set(expected.reasons)
        for line, start in expected.reasons.items():
            assert rejects[line].startswith(start), (line, rejects[line])

        listing = html.unescape((await browser.get("/imports-caf")).text)
        row = listing.split(f'<a href="{url}">{path.name}</a>')[1].split("</tr>")[0]
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells[1:6] == [
            "Terminé",
            "30 / 30",
            str(expected.count("created")),
            str(expected.count("signalled")),
            "0",
        ]
        assert f">{expected.count('rejected')}</a>" in cells[6]

        again = await browser.post(
            "/imports-caf", files={"fichier": ("encore.csv", path.read_bytes(), "text/csv")}
        )
        assert again.status_code == 303
        assert again.headers["location"] == f"{url}?fait=deja#resultat"
        page = html.unescape((await browser.get(again.headers["location"])).text)
        assert "Ce fichier avait déjà été importé (même contenu) : rien n'a été refait." in page
        assert rejected_lines(page) == rejects


async def test_a_file_that_is_not_a_caf_feed_is_refused_with_the_reason(
    partners: PartnerStack, staff: Staff
) -> None:
    async with signed_in(partners.api_url, staff["manager"].email) as browser:
        refused = await browser.post(
            "/imports-caf",
            files={"fichier": ("liste.csv", "nom;prenom\nMartin;Léa\n".encode(), "text/csv")},
        )
        nothing = await browser.post("/imports-caf")

    assert refused.status_code == 422
    page = html.unescape(refused.text)
    assert "Le fichier n'a pas été importé" in page
    assert "colonnes manquantes dans l'en-tête" in page
    assert "liste.csv" not in page.split('id="imports"')[1]  # nothing stored
    assert nothing.status_code == 422
    assert "Choisissez le fichier du flux de la CAF à importer." in html.unescape(nothing.text)


async def test_only_administrators_and_managers_see_the_imports(
    partners: PartnerStack, staff: Staff
) -> None:
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        home = (await browser.get("/parcours")).text
        refused = await browser.get("/imports-caf")

    assert "Imports CAF" not in home
    assert refused.status_code == 403
    assert "réservés aux administrateurs et aux responsables de territoire" in html.unescape(
        refused.text
    )


# --- The demo's feed (``make run``) -----------------------------------------------------------


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_demo_feed_is_imported_once_and_its_people_can_be_looked_up(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    new_account: NewAccount,
    tmp_path: Path,
) -> None:
    referent = await new_account("referent")
    seed = fresh_seed()

    first = await seed_caf_feed(
        partners.settings, tmp_path, seed=seed, referent_email=referent.email
    )

    assert first.ran_now and first.path.name.startswith(DEMO_FEED_PREFIX)
    assert (first.imported.status, first.imported.lines) == ("completed", 40)
    assert first.imported.rejected >= 3 and first.imported.created > 0
    # Up to 4 of the people it enrolled whose journey is still open (a random feed may close
    # some of them in its later lines).
    assert 1 <= first.handed_to_referent <= 4
    people = await count(sessions, Beneficiary)

    again = await seed_caf_feed(
        partners.settings, tmp_path, seed=seed, referent_email=referent.email
    )

    assert not again.ran_now and again.path == first.path
    assert again.imported.id == first.imported.id
    assert again.handed_to_referent == 0
    assert await count(sessions, Beneficiary) == people
    assert demo_feed_summary(again).endswith("déjà importé : rien de nouveau.")
    assert await asyncio.to_thread(os.listdir, tmp_path) == [first.path.name]

    # The demo's référente follows some of them; the CAF knows their household.
    async with sessions() as session:
        followed = list(
            await session.scalars(
                select(JourneyRecord.beneficiary_id).where(JourneyRecord.referent_id == referent.id)
            )
        )
        consents = await session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.beneficiary_id.in_(followed), Consent.partner == "france_travail")
        )
    assert len(followed) == first.handed_to_referent
    assert consents == min(2, len(followed))
    looked_up = await partners.api.post(
        f"/api/v1/beneficiaries/{followed[0]}/lookups/caf", headers=referent.headers
    )
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json()["status"] == "found"
