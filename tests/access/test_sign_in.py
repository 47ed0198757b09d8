"""Signing in and out through HTTP, as a browser does it: the sign-in page and its CSRF
cookie, the session cookie, lock-out after repeated failures, invitation links, and API
tokens that stop working once revoked."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import SESSION_COOKIE, SIGN_IN_CSRF_COOKIE
from parcours.access.models import ApiToken, User
from parcours.access.service import AccountService
from parcours.core.db import transaction
from parcours.core.settings import Settings
from tests.support.accounts import STAFF_PASSWORD, NewAccount, Staff
from tests.support.api import enrol, served
from tests.support.clients import ApiClients, Browser, csrf_in

WRONG = "Adresse électronique ou mot de passe incorrect."
UNAUTHENTICATED = (401, {"detail": "Authentification requise (jeton d'API ou session)."})


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def alert(response: httpx.Response) -> str:
    found = re.search(r'role="alert"><p>([^<]*)</p>', text(response))
    assert found, "no error shown"
    return found.group(1)


def set_cookie(response: httpx.Response, name: str) -> SimpleCookie:
    """The ``Set-Cookie`` header for ``name``, parsed with its attributes."""
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie and cookie[name].value:
            return cookie
    raise AssertionError(f"{name} not set")


@pytest.fixture
async def browser(api_url: str) -> AsyncIterator[Browser]:
    opened = Browser(api_url)
    try:
        yield opened
    finally:
        await opened.aclose()


# --- Passwords ---


async def test_sign_in_opens_the_home_page_with_a_session_cookie(
    browser: Browser, staff: Staff
) -> None:
    response = await browser.sign_in(staff["referent"].email)

    assert (response.status_code, response.headers["location"]) == (303, "/parcours")
    cookie = set_cookie(response, SESSION_COOKIE)[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http in development and tests
    home = await browser.get("/parcours")
    assert home.status_code == 200
    assert 'id="signed-in-as">Referent 1<' in text(home)
    # The sign-in page, once signed in, sends you home.
    again = await browser.get("/connexion")
    assert (again.status_code, again.headers["location"]) == (303, "/parcours")


async def test_session_cookies_are_secure_when_configured(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    staff: Staff,
) -> None:
    secure = settings.model_copy(update={"cookie_secure": True})
    async with served(create_app(secure, temporal=dev_env.client)) as client:
        form_page = await client.get("/connexion")
        csrf_cookie = set_cookie(form_page, SIGN_IN_CSRF_COOKIE)[SIGN_IN_CSRF_COOKIE]
        assert csrf_cookie["secure"] and csrf_cookie["httponly"]
        # A browser sends a Secure cookie back over https only: send it by hand here.
        response = await client.post(
            "/connexion",
            data={
                "email": staff["referent"].email,
                "password": STAFF_PASSWORD,
                "csrf_token": csrf_in(form_page.text),
            },
            headers={"Cookie": f"{SIGN_IN_CSRF_COOKIE}={csrf_cookie.value}"},
        )

    assert response.status_code == 303, response.text
    cookie = set_cookie(response, SESSION_COOKIE)[SESSION_COOKIE]
    assert (cookie["secure"], cookie["httponly"], cookie["samesite"].lower()) == (
        True,
        True,
        "lax",
    )


async def test_a_wrong_password_says_nothing_about_the_account(
    browser: Browser, staff: Staff
) -> None:
    wrong_password = await browser.sign_in(staff["referent"].email, "pas-le-bon-mot-de-passe")
    unknown_email = await browser.sign_in("personne@nulle-part.fr", "pas-le-bon-mot-de-passe")

    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert alert(response) == WRONG
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    # The same page either way, but for the address typed back into its field.
    assert text(wrong_password).replace(staff["referent"].email, "") == text(unknown_email).replace(
        "personne@nulle-part.fr", ""
    )


async def test_the_account_locks_after_five_failures(
    browser: Browser, new_account: NewAccount, settings: Settings
) -> None:
    assert (settings.max_failed_logins, settings.lockout_minutes) == (5, 15)
    account = await new_account("referent")

    for _ in range(4):
        assert alert(await browser.sign_in(account.email, "mauvais-mot-de-passe-1")) == WRONG
    fifth = await browser.sign_in(account.email, "mauvais-mot-de-passe-1")
    assert alert(fifth) == WRONG

    right_password = await browser.sign_in(account.email, STAFF_PASSWORD)

    assert right_password.status_code == 401
    assert alert(right_password) == (
        "Compte verrouillé après plusieurs échecs de connexion : réessayez dans 15 minute(s)."
    )
    assert SESSION_COOKIE not in right_password.headers.get("set-cookie", "")
    assert browser.session_cookie is None


async def test_the_lock_ends_after_its_delay_and_a_success_resets_the_count(
    browser: Browser, new_account: NewAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await new_account("referent")
    for _ in range(5):
        await browser.sign_in(account.email, "mauvais-mot-de-passe-1")
    async with transaction(sessions) as session:  # 15 minutes later
        await session.execute(
            update(User).where(User.id == account.id).values(locked_until=datetime.now(UTC))
        )

    assert (await browser.sign_in(account.email, STAFF_PASSWORD)).status_code == 303
    await browser.post("/deconnexion")
    # A success starts the count again: four more failures do not lock the account.
    for _ in range(4):
        await browser.sign_in(account.email, "mauvais-mot-de-passe-1")
    assert (await browser.sign_in(account.email, STAFF_PASSWORD)).status_code == 303


# --- CSRF ---


async def test_the_sign_in_form_needs_its_csrf_token(browser: Browser, staff: Staff) -> None:
    await browser.get("/connexion")  # the CSRF cookie is set
    form = {"email": staff["referent"].email, "password": STAFF_PASSWORD}

    without = await browser.client.post("/connexion", data=form)
    wrong = await browser.client.post("/connexion", data={**form, "csrf_token": "devine"})

    for response in (without, wrong):
        assert response.status_code == 403
        assert alert(response) == "Le formulaire a expiré : recommencez."
    assert browser.session_cookie is None


async def test_a_page_form_without_the_sessions_csrf_token_is_refused(
    browser: Browser, staff: Staff
) -> None:
    await browser.sign_in(staff["referent"].email)
    refused = "Le formulaire a expiré ou ne vient pas de Parcours"

    without = await browser.client.post("/parcours/nouveau", data={"last_name": "Sans jeton"})
    wrong = await browser.client.post(
        "/parcours/nouveau", data={"last_name": "Faux jeton", "csrf_token": "devine"}
    )
    # The other session's token is no better.
    other = Browser(str(browser.client.base_url))
    try:
        await other.sign_in(staff["other_referent"].email)
        borrowed = await browser.client.post(
            "/parcours/nouveau", data={"last_name": "Autre", "csrf_token": other.csrf}
        )
    finally:
        await other.aclose()

    for response in (without, wrong, borrowed):
        assert response.status_code == 403
        assert refused in text(response)
    # With it, the form is read (and this one, incomplete, explained).
    explained = await browser.post("/parcours/nouveau", data={"last_name": "Avec jeton"})
    assert explained.status_code == 422
    assert "Prénom : ce champ est obligatoire." in text(explained)


# --- Sessions ---


async def test_signing_out_ends_the_session(api_url: str, browser: Browser, staff: Staff) -> None:
    await browser.sign_in(staff["referent"].email)
    old_cookie = browser.session_cookie
    assert old_cookie

    signed_out = await browser.post("/deconnexion")

    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/connexion")
    # The old cookie, replayed, opens nothing: the session is gone on the server.
    async with httpx.AsyncClient(base_url=api_url, cookies={SESSION_COOKIE: old_cookie}) as replay:
        page = await replay.get("/parcours")
        assert (page.status_code, page.headers["location"]) == (
            303,
            "/connexion?next=%2Fparcours",
        )
        api_call = await replay.get("/api/v1/journeys")
        assert (api_call.status_code, api_call.json()) == UNAUTHENTICATED


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        ("/parcours/nouveau", "/parcours/nouveau"),
        ("/parcours?step=diagnosis", "/parcours?step=diagnosis"),
        ("https://ailleurs.example/piege", "/parcours"),
        ("//ailleurs.example/piege", "/parcours"),
        ("/\\ailleurs.example/piege", "/parcours"),
        ("/\t/ailleurs.example/piege", "/parcours"),
        ("javascript:alert(1)", "/parcours"),
        ("parcours", "/parcours"),
    ],
)
async def test_after_sign_in_only_a_local_path_is_followed(
    browser: Browser, staff: Staff, asked: str, landed: str
) -> None:
    response = await browser.sign_in(staff["referent"].email, next=asked)

    assert (response.status_code, response.headers["location"]) == (303, landed)


async def test_a_page_asks_to_sign_in_and_comes_back_after(browser: Browser, staff: Staff) -> None:
    asked = await browser.get("/parcours/nouveau")
    assert (asked.status_code, asked.headers["location"]) == (
        303,
        "/connexion?next=%2Fparcours%2Fnouveau",
    )
    form_page = await browser.get(asked.headers["location"])
    assert 'name="next" value="/parcours/nouveau"' in form_page.text

    response = await browser.client.post(
        "/connexion",
        data={
            "email": staff["referent"].email,
            "password": STAFF_PASSWORD,
            "next": "/parcours/nouveau",
            "csrf_token": csrf_in(form_page.text),
        },
    )

    assert (response.status_code, response.headers["location"]) == (303, "/parcours/nouveau")
    assert (await browser.get("/parcours/nouveau")).status_code == 200


# --- Invitations ---


async def test_an_invitation_link_sets_the_password_once(
    browser: Browser,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await new_account("referent", password=False)
    async with transaction(sessions) as session:
        user = await session.get(User, account.id)
        assert user is not None
        token = await AccountService(session, settings).invite(user)
    link = f"/activation/{token}"
    chosen = "Un-mot-de-passe-choisi-42"

    assert (await browser.get(link)).status_code == 200
    too_short = await browser.client.post(link, data={"password": "court1", "confirm": "court1"})
    assert too_short.status_code == 422
    assert "Le mot de passe doit compter au moins 12 caractères." in text(too_short)
    mismatch = await browser.client.post(link, data={"password": chosen, "confirm": chosen + "x"})
    assert mismatch.status_code == 422
    assert "Les deux mots de passe ne sont pas identiques." in text(mismatch)
    # No password yet: signing in fails like any wrong password.
    assert alert(await browser.sign_in(account.email, chosen)) == WRONG

    accepted = await browser.client.post(link, data={"password": chosen, "confirm": chosen})

    assert (accepted.status_code, accepted.headers["location"]) == (303, "/parcours")
    assert browser.session_cookie  # signed in straight away
    assert (await browser.get("/parcours")).status_code == 200
    used = await browser.client.post(link, data={"password": chosen, "confirm": chosen})
    assert used.status_code == 422
    assert "Ce lien n'est plus valable : demandez-en un nouveau." in text(used)
    await browser.post("/deconnexion")
    assert (await browser.sign_in(account.email, chosen)).status_code == 303


# --- API tokens ---


async def test_a_revoked_or_unknown_token_is_refused(
    api_url: str, api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = staff.token("referent")
    beneficiary_id = await enrol(api.referent)
    async with httpx.AsyncClient(base_url=api_url) as client:

        async def listing(bearer: str) -> httpx.Response:
            return await client.get(
                "/api/v1/journeys", headers={"Authorization": f"Bearer {bearer}"}
            )

        assert (await listing(token)).status_code == 200
        async with transaction(sessions) as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == staff.referent_id)
                .values(revoked_at=datetime.now(UTC))
            )

        for response in (
            await listing(token),
            await listing(token[:-1]),
            await listing("inconnu"),
        ):
            assert (response.status_code, response.json()) == UNAUTHENTICATED
        refused = await client.post(
            f"/api/v1/journeys/{beneficiary_id}/actions/pause",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (refused.status_code, refused.json()) == UNAUTHENTICATED


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("orientation", "/parcours"),
        ("manager", "/gestion/bloques"),
        ("funder", "/financeurs/demandes"),
        ("admin", "/admin/effacements"),
    ],
)
async def test_each_role_lands_on_its_own_page(
    browser: Browser, staff: Staff, role: str, home: str
) -> None:
    response = await browser.sign_in(staff[role].email)

    assert (response.status_code, response.headers["location"]) == (303, home)
    page = await browser.get(home)
    if role == "funder":
        # The tests' funder belongs to no funding body: the page says what to do.
        assert page.status_code == 403
        assert "demandez à un administrateur de le rattacher" in text(page)
    else:
        assert page.status_code == 200
