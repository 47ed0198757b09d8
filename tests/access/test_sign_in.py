"""Signing in and out through HTTP, as a browser does it: the sign-in page and its CSRF
cookie, the session cookie, a throttle that holds under parallel tries without letting a
stranger lock an agent out, sessions that end when idle, invitation links, and API
tokens that stop working once revoked."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import SESSION_COOKIE, SIGN_IN_CSRF_COOKIE
from parcours.access import service as access_service
from parcours.access.models import ApiToken, SignInThrottle, User, WebSession
from parcours.access.service import AccountService
from parcours.core.db import transaction
from parcours.core.errors import Unauthenticated
from parcours.core.security import password_problem, token_hash
from parcours.core.settings import Settings
from tests.support.accounts import STAFF_PASSWORD, NewAccount, Staff
from tests.support.api import enrol, served
from tests.support.clients import ApiClients, Browser, csrf_in
from tests.support.platform import until

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


def waited(message: str) -> int:
    """The wait a refusal announces, in seconds (« réessayez dans 30 secondes », « 2 minutes »)."""
    found = re.search(r"réessayez dans (\d+) (secondes|minutes)", message)
    assert found, message
    return int(found.group(1)) * (60 if found.group(2) == "minutes" else 1)


def from_client(base_url: str, address: str) -> Browser:
    """A browser whose requests come from ``address`` (uvicorn takes the proxy's
    ``X-Forwarded-For`` from 127.0.0.1, as behind the production reverse proxy)."""
    return Browser(base_url, headers={"X-Forwarded-For": address})


def unique_address() -> str:
    return f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.mark.security
async def test_after_five_tries_the_same_client_waits_and_nobody_else_does(
    api_url: str, new_account: NewAccount, settings: Settings
) -> None:
    assert settings.sign_in_attempts_per_pair == 5
    account = await new_account("referent")
    attacker = from_client(api_url, unique_address())
    agent = from_client(api_url, unique_address())
    try:
        for _ in range(5):
            assert alert(await attacker.sign_in(account.email, "mauvais-mot-de-passe-1")) == WRONG
        sixth = await attacker.sign_in(account.email, STAFF_PASSWORD)  # even the right one
        assert sixth.status_code == 429
        assert alert(sixth).startswith("Trop de tentatives de connexion : par sécurité, réessayez")
        assert 20 < waited(alert(sixth)) <= 30
        assert attacker.session_cookie is None
        # The agent, elsewhere, is not locked out by a stranger's tries.
        assert (await agent.sign_in(account.email, STAFF_PASSWORD)).status_code == 303
    finally:
        await attacker.aclose()
        await agent.aclose()


@pytest.mark.security
async def test_each_try_past_the_limit_waits_twice_as_long_and_a_success_forgets(
    api_url: str, new_account: NewAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await new_account("referent")
    client = from_client(api_url, unique_address())
    try:
        for _ in range(5):
            assert alert(await client.sign_in(account.email, "mauvais-mot-de-passe-1")) == WRONG
        waits = []
        for _ in range(3):
            refused = await client.sign_in(account.email, "mauvais-mot-de-passe-1")
            assert refused.status_code == 429
            waits.append(alert(refused))
            await wait_is_over(sessions)
            # The try after the wait is checked, and sets a longer wait for the next one.
            assert alert(await client.sign_in(account.email, "mauvais-mot-de-passe-1")) == WRONG
        # Each wait twice the one before (read a moment after it was set: a little less).
        low = [20, 50, 60]
        high = [30, 60, 120]
        assert [low[n] < waited(w) <= high[n] for n, w in enumerate(waits)] == [True] * 3, waits
        await wait_is_over(sessions)
        assert (await client.sign_in(account.email, STAFF_PASSWORD)).status_code == 303
        await client.post("/deconnexion")
        # A success starts the count again: five more tries are checked.
        for _ in range(4):
            assert alert(await client.sign_in(account.email, "mauvais-mot-de-passe-1")) == WRONG
        assert (await client.sign_in(account.email, STAFF_PASSWORD)).status_code == 303
    finally:
        await client.aclose()


async def wait_is_over(sessions: async_sessionmaker[AsyncSession]) -> None:
    """As if the waits had passed."""
    async with transaction(sessions) as session:
        await session.execute(update(SignInThrottle).values(blocked_until=None))


@pytest.mark.security
async def test_forty_parallel_tries_check_five_passwords_at_most(
    api_url: str, new_account: NewAccount
) -> None:
    account = await new_account("referent")
    address = unique_address()
    clients = [from_client(api_url, address) for _ in range(40)]
    try:
        for client in clients:  # each has its sign-in page (and CSRF cookie) first
            await client.get("/connexion")

        async def attempt(client: Browser) -> int:
            return (await client.sign_in(account.email, "mauvais-mot-de-passe-1")).status_code

        answers = await asyncio.gather(*(attempt(c) for c in clients))
        print(f"\n40 parallel wrong passwords: {Counter(answers)}")
        assert Counter(answers)[401] <= 5 and set(answers) <= {401, 429}, answers
        # Still waiting: the right password is not even checked.
        assert (await clients[0].sign_in(account.email, STAFF_PASSWORD)).status_code == 429
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.security
async def test_one_client_trying_many_accounts_waits(
    settings: Settings, dev_env: WorkflowEnvironment, new_account: NewAccount
) -> None:
    strict = settings.model_copy(update={"sign_in_failures_per_client": 3})
    async with served(create_app(strict, temporal=dev_env.client)) as served_client:
        base_url = str(served_client.base_url)
        address = unique_address()
        client = from_client(base_url, address)
        try:
            for n in range(3):  # three accounts, a wrong password each (one unknown)
                email = (await new_account("referent")).email if n else "personne@nulle-part.fr"
                assert alert(await client.sign_in(email, "mauvais-mot-de-passe-1")) == WRONG
            other = await new_account("referent")
            refused = await client.sign_in(other.email, STAFF_PASSWORD)
            assert refused.status_code == 429
            # The same answer for an address that has no account.
            unknown = await client.sign_in("inconnue@nulle-part.fr", STAFF_PASSWORD)
            assert (unknown.status_code, alert(unknown)) == (429, alert(refused))
            # Another client is not concerned.
            elsewhere = from_client(base_url, unique_address())
            assert (await elsewhere.sign_in(other.email, STAFF_PASSWORD)).status_code == 303
            await elsewhere.aclose()
        finally:
            await client.aclose()


@pytest.mark.security
async def test_an_unknown_address_costs_the_same_password_check(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hash is computed whether the account exists or not: the time of the answer says
    nothing (measured times are printed, not asserted)."""
    checked: list[bool] = []
    real = access_service.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash is None)
        return real(password_hash, password)

    monkeypatch.setattr(access_service, "verify_password", counting)
    times: dict[str, list[float]] = {"inconnue": [], "connue": []}
    for _ in range(5):
        for label, email in (
            ("inconnue", "personne@nulle-part.fr"),
            ("connue", staff["referent"].email),
        ):
            async with sessions() as session:
                started = time.perf_counter()
                with pytest.raises(Unauthenticated) as refused:
                    await AccountService(session, settings).sign_in(email, "mauvais-mot-de-passe")
                times[label].append(time.perf_counter() - started)
                assert refused.value.message == WRONG
    assert checked.count(True) == 5 and checked.count(False) == 5
    print(
        "\nsign-in refused, median ms: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.1f}" for k, v in times.items())
    )


@pytest.mark.security
async def test_a_session_ends_after_30_idle_minutes_or_12_hours(
    browser: Browser, staff: Staff, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    assert (settings.session_idle_minutes, settings.session_hours) == (30, 12)
    assert (await browser.sign_in(staff["referent"].email)).status_code == 303
    session_id = token_hash(browser.session_cookie or "")

    async def last_seen() -> datetime:
        async with sessions() as session:
            found = await session.get(WebSession, session_id)
            assert found is not None
            return found.last_seen_at

    # 20 minutes without a request: still signed in, and the request is recorded.
    async with transaction(sessions) as session:
        await session.execute(
            update(WebSession)
            .where(WebSession.id == session_id)
            .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=20))
        )
    assert (await browser.get("/parcours")).status_code == 200
    await until(lambda: _recent(last_seen, timedelta(minutes=1)))
    # 31 minutes: the session has ended, the page asks to sign in again.
    async with transaction(sessions) as session:
        await session.execute(
            update(WebSession)
            .where(WebSession.id == session_id)
            .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31))
        )
    assert (await browser.get("/parcours")).headers["location"].startswith("/connexion")

    # Busy all day long, a session still ends 12 hours after signing in.
    assert (await browser.sign_in(staff["referent"].email)).status_code == 303
    async with transaction(sessions) as session:
        await session.execute(
            update(WebSession)
            .where(WebSession.id == token_hash(browser.session_cookie or ""))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await browser.get("/parcours")).headers["location"].startswith("/connexion")


async def _recent(read: Callable[[], Awaitable[datetime]], within: timedelta) -> bool:
    return datetime.now(UTC) - await read() < within


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

    form_page = await browser.get(link)
    assert form_page.status_code == 200
    form = {"csrf_token": csrf_in(form_page.text)}
    no_token = await browser.client.post(link, data={"password": chosen, "confirm": chosen})
    assert no_token.status_code == 403
    assert "Le formulaire a expiré : recommencez." in text(no_token)
    too_short = await browser.client.post(
        link, data={"password": "court1", "confirm": "court1", **form}
    )
    assert too_short.status_code == 422
    assert "Le mot de passe doit compter au moins 12 caractères" in text(too_short)
    mismatch = await browser.client.post(
        link, data={"password": chosen, "confirm": chosen + "x", **form}
    )
    assert mismatch.status_code == 422
    assert "Les deux mots de passe ne sont pas identiques." in text(mismatch)
    # No password yet: signing in fails like any wrong password.
    assert alert(await browser.sign_in(account.email, chosen)) == WRONG

    accepted = await browser.client.post(link, data={"password": chosen, "confirm": chosen, **form})

    assert (accepted.status_code, accepted.headers["location"]) == (303, "/parcours")
    assert browser.session_cookie  # signed in straight away
    assert (await browser.get("/parcours")).status_code == 200
    token = csrf_in((await browser.get(link)).text)
    used = await browser.client.post(
        link, data={"password": chosen, "confirm": chosen, "csrf_token": token}
    )
    assert used.status_code == 422
    assert "Ce lien n'est plus valable : demandez-en un nouveau." in text(used)
    # Signed in by the link, not by ``sign_in``: sign out with the token its pages carry.
    page = await browser.get("/parcours")
    await browser.client.post("/deconnexion", data={"csrf_token": csrf_in(page.text)})
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


@pytest.mark.security
@pytest.mark.parametrize(
    ("password", "refused_because"),
    [
        ("court-1", "au moins 12 caractères"),
        ("motdepasseseul", "mêler lettres et chiffres"),
        ("une phrase assez longue", None),  # 16 or more: letters alone will do
        ("Parcours-2026!", None),
        ("aaaaaaaaaaaaaaaaaaaa", "répète trop"),
        ("claire.martin-2026", "votre adresse"),
        ("x1" * 70, "dépasser 128"),
    ],
)
def test_the_password_policy_puts_length_first(password: str, refused_because: str | None) -> None:
    problem = password_problem(password, email="claire.martin@cd73.fr")
    if refused_because is None:
        assert problem is None
    else:
        assert problem is not None and refused_because in problem
