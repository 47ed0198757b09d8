"""Every form that changes something refuses a post without the session's CSRF token, or
with another session's — issue 16, item 10. The forms are read from the app: each page route
that takes a POST (PUT, PATCH, DELETE), outside the JSON API. Each is posted by the user it
is for (an admin's by an admin…), signed in, with her own person in the path: a refusal comes
from the token, and from nothing else. ``/deconnexion`` too: a page of another site must not
sign anyone out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.auth import SESSION_COOKIE
from parcours.access.models import User
from parcours.access.service import AccountService
from parcours.core.db import transaction
from parcours.core.settings import Settings
from tests.support.accounts import Account, NewAccount, Staff
from tests.support.api import enrol
from tests.support.appointments import booking_link
from tests.support.clients import ApiClients, Browser, csrf_in, signed_in
from tests.support.routes import SAFE, every_route

pytestmark = pytest.mark.security

EXPIRED = "Le formulaire a expiré"

# Forms posted before there is a session: they carry the sign-in form's own token (a cookie
# and a field that must match), and answer with the form again, saying it expired: the
# invitation form too, whose link alone would let another site sign a visitor into its account.
BEFORE_SIGN_IN = {"/connexion", "/mot-de-passe-oublie", "/activation/{token}"}
# The person's booking link: no account either, its forms carry the same kind of token; tried
# on a real link (a random one names no appointment: 404).
BOOKING_LINK = {"/rdv/{token}", "/rdv/{token}/deplacer", "/rdv/{token}/annuler"}

# Whose form it is, by the start of its path; anything else is a référent's.
OWNERS = {
    "/admin": "admin",
    "/ressources/import": "admin",
    "/gestion": "manager",
    "/imports-caf": "manager",
    "/financeurs": "funder",
    "/mon-espace": "person",
}


def forms(settings: Settings) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path in every_route(create_app(settings))
        if method not in SAFE and not path.startswith("/api/")
    )


def owner(path: str) -> str:
    return next((who for start, who in OWNERS.items() if path.startswith(start)), "referent")


def filled(path: str, person_id: str) -> str:
    known = {"beneficiary_id": person_id, "tab": "situation", "name": "begin-diagnosis"}
    known |= {"what": "notes", "partner": "caf"}
    return re.sub(r"{(\w+)}", lambda m: known.get(m.group(1), str(uuid.uuid4())), path)


@pytest.fixture
async def person_account(api: ApiClients, new_account: NewAccount) -> tuple[str, Account]:
    """A person the staff's référent follows, with her own account."""
    person_id = await enrol(api.referent)
    return person_id, await new_account("beneficiary", beneficiary_id=person_id)


@pytest.fixture
async def sessions_of(
    api_url: str, staff: Staff, person_account: tuple[str, Account]
) -> AsyncIterator[dict[str, tuple[Browser, Browser]]]:
    """Two sessions of each user: one to post from, the other to lend its token."""
    accounts = {who: staff[who] for who in ("referent", "admin", "manager", "funder")}
    accounts["person"] = person_account[1]
    opened: dict[str, tuple[Browser, Browser]] = {}
    try:
        for who, account in accounts.items():
            pair = []
            for _ in range(2):
                browser = Browser(api_url)
                assert (await browser.sign_in(account.email)).status_code == 303
                pair.append(browser)
            opened[who] = (pair[0], pair[1])
        yield opened
    finally:
        for first, second in opened.values():
            await first.aclose()
            await second.aclose()


async def before_sign_in(api_url: str, method: str, url: str, page: str | None = None) -> list[str]:
    """A form posted before signing in, with no token, or with another browser's (the form
    is on ``page``, by default its own address)."""
    wrong = []
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=60) as mine,
        httpx.AsyncClient(base_url=api_url, timeout=60) as theirs,
    ):
        own = csrf_in((await mine.get(page or url)).text)
        borrowed = csrf_in((await theirs.get(page or url)).text)
        assert own and borrowed and own != borrowed
        for label, token in (("no token", ""), ("another browser's", borrowed)):
            answer = await mine.request(method, url, data={"csrf_token": token})
            if answer.status_code == 303 or EXPIRED not in answer.text:
                wrong.append(f"{method} {url} with {label}: {answer.status_code}")
    return wrong


async def test_every_form_refuses_a_missing_or_borrowed_token(
    settings: Settings,
    sessions_of: dict[str, tuple[Browser, Browser]],
    person_account: tuple[str, Account],
    api_url: str,
    api: ApiClients,
) -> None:
    person_id = person_account[0]
    token = await booking_link(api, person_id)
    wrong: list[str] = []
    for method, path in forms(settings):
        url = filled(path, person_id)
        if path in BOOKING_LINK:
            link = path.replace("{token}", token)
            wrong += await before_sign_in(api_url, method, link, f"/rdv/{token}")
            continue
        if path in BEFORE_SIGN_IN:
            wrong += await before_sign_in(api_url, method, url)
            continue
        mine, other = sessions_of[owner(path)]
        assert mine.csrf and other.csrf and mine.csrf != other.csrf
        for label, data in (("no token", {}), ("another session's", {"csrf_token": other.csrf})):
            answer = await mine.client.request(method, url, data=data)
            if answer.status_code != 403 or EXPIRED not in answer.text:
                wrong.append(f"{method} {path} with {label}: {answer.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_signing_out_asks_for_the_token_of_the_session(api_url: str, staff: Staff) -> None:
    async with (
        signed_in(api_url, staff["referent"].email) as browser,
        signed_in(api_url, staff["referent"].email) as elsewhere,
    ):
        for data in ({}, {"csrf_token": elsewhere.csrf}):
            refused = await browser.client.post("/deconnexion", data=data)
            assert refused.status_code == 403 and EXPIRED in refused.text
            # Still signed in: the session works, its cookie was not dropped.
            assert (await browser.get("/parcours")).status_code == 200
            assert browser.session_cookie
        # From one of its own pages, the header's « Se déconnecter » form signs out.
        page = await browser.get("/parcours")
        assert "Se déconnecter" in page.text
        out = await browser.client.post("/deconnexion", data={"csrf_token": csrf_in(page.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/connexion")
        assert browser.client.cookies.get(SESSION_COOKIE) is None
        assert (await browser.get("/parcours")).headers["location"].startswith("/connexion")


async def test_an_invitation_link_is_accepted_from_its_own_page_only(
    api_url: str,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await new_account("referent", password=False)
    async with transaction(sessions) as session:
        user = await session.get(User, account.id)
        assert user is not None
        token = await AccountService(session, settings).invite(user)
    chosen = "Un-mot-de-passe-choisi-42"
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as browser:
        posted = await browser.post(
            f"/activation/{token}", data={"password": chosen, "confirm": chosen}
        )
        assert (posted.status_code, browser.cookies.get(SESSION_COOKIE)) == (403, None)
        assert EXPIRED in posted.text
        # The link still works, from its own page.
        form = await browser.get(f"/activation/{token}")
        data = {"password": chosen, "confirm": chosen, "csrf_token": csrf_in(form.text)}
        accepted = await browser.post(f"/activation/{token}", data=data)
        assert accepted.status_code == 303 and browser.cookies.get(SESSION_COOKIE)
