"""« Mot de passe oublié » end to end, every link read from a real mailbox: an agent asks, the
mail brings a one-hour, one-time link, the new password replaces the old one. The page answers
the same whether the address has an account or not, and a link that served, was replaced or
expired says so in French."""

from __future__ import annotations

import asyncio
import html
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Invitation
from parcours.core.db import transaction, utcnow
from parcours.core.settings import Settings
from tests.support.accounts import STAFF_PASSWORD, create_account
from tests.support.clients import Browser, csrf_in
from tests.support.mailbox import LocalMailbox

pytestmark = pytest.mark.onboarding

NEW_PASSWORD = "un-nouveau-mot-de-passe-7"
ASKED = "Si un compte Parcours correspond à cette adresse"


async def ask_reset(url: str, email: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as browser:
        form = await browser.get("/mot-de-passe-oublie")
        assert form.status_code == 200
        return await browser.post(
            "/mot-de-passe-oublie", data={"email": email, "csrf_token": csrf_in(form.text)}
        )


async def choose(url: str, link: str, password: str = NEW_PASSWORD) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as browser:
        token = csrf_in((await browser.get(link)).text)
        return await browser.post(
            link, data={"password": password, "confirm": password, "csrf_token": token}
        )


async def signs_in(url: str, email: str, password: str) -> bool:
    browser = Browser(url)
    try:
        return (await browser.sign_in(email, password)).status_code == 303
    finally:
        await browser.aclose()


async def test_a_forgotten_password_is_replaced_through_the_link_of_the_mail(
    mailed_app: tuple[str, Settings],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailbox: LocalMailbox,
) -> None:
    url, _ = mailed_app
    agent = await create_account(sessions, settings, "referent", full_name="Louise Oubli")
    elsewhere = Browser(url)  # a session opened before, on another computer
    assert (await elsewhere.sign_in(agent.email)).status_code == 303

    asked = await ask_reset(url, agent.email)
    assert asked.status_code == 200 and ASKED in html.unescape(asked.text)
    mail = await mailbox.wait_for(to=agent.email, subject_contains="nouveau mot de passe")
    assert "Bonjour Louise Oubli" in mail.body and "valable 1 heure" in mail.body
    link = next(link for link in mail.links if "/activation/" in link)

    chosen = await choose(url, link)
    assert chosen.status_code == 303
    assert await signs_in(url, agent.email, NEW_PASSWORD)
    assert not await signs_in(url, agent.email, STAFF_PASSWORD)
    # The sessions opened with the old password are over.
    ended = await elsewhere.get("/parcours")
    await elsewhere.aclose()
    assert ended.status_code == 303 and ended.headers["location"].startswith("/connexion")

    again = await choose(url, link, "encore-un-autre-mot-de-passe-8")
    assert again.status_code == 422 and "n'est plus valable" in html.unescape(again.text)


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    mailed_app: tuple[str, Settings], mailbox: LocalMailbox
) -> None:
    url, _ = mailed_app
    nobody = f"personne.{uuid.uuid4().hex[:6]}@exemple.fr"
    asked = await ask_reset(url, nobody)
    assert asked.status_code == 200 and ASKED in html.unescape(asked.text)
    # The outbox would have taken a mail in the request's own transaction: nothing came.
    assert mailbox.received(to=nobody) == []


async def test_a_replaced_or_expired_link_is_refused_in_french(
    mailed_app: tuple[str, Settings],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailbox: LocalMailbox,
) -> None:
    url, _ = mailed_app
    agent = await create_account(sessions, settings, "orientation")
    await ask_reset(url, agent.email)
    first = await mailbox.wait_for(to=agent.email, subject_contains="nouveau mot de passe")
    await ask_reset(url, agent.email)
    async with asyncio.timeout(10):
        while len(mailbox.received(to=agent.email)) < 2:
            await asyncio.sleep(0.05)
    second = mailbox.received(to=agent.email)[1]

    replaced = await choose(url, next(k for k in first.links if "/activation/" in k))
    assert replaced.status_code == 422 and "n'est plus valable" in html.unescape(replaced.text)

    # An hour later the second link has expired too.
    async with transaction(sessions) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.user_id == agent.id, Invitation.used_at.is_(None))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    expired = await choose(url, next(k for k in second.links if "/activation/" in k))
    assert expired.status_code == 422 and "n'est plus valable" in html.unescape(expired.text)
    # Neither link changed anything: the password is the one the agent had.
    assert await signs_in(url, agent.email, STAFF_PASSWORD)
