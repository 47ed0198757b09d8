"""ProConnect through HTTP, against a real OpenID Connect provider process configured as
ProConnect is (``tests/support/proconnect.py``): an invited agent's first sign-in, the refusals
(an e-mail without an agent account, a deactivated account, the agent cancelling at the
provider, a forged ``state``, an id_token for another ``nonce``, the provider down), and the
sign-out that ends the provider's session too."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import SESSION_COOKIE
from api.proconnect import (
    CANCELLED,
    NO_SIGN_IN_UNDER_WAY,
    NO_SIGN_OUT_UNDER_WAY,
    SIGN_IN_RETURN,
    SIGN_OUT_RETURN,
    UNREACHABLE,
    UNVERIFIED,
)
from parcours.access.models import User
from parcours.access.service import ACCOUNT_DEACTIVATED, NO_AGENT_ACCOUNT
from parcours.core.db import transaction
from parcours.core.settings import Settings
from tests.support.accounts import NewAccount
from tests.support.api import served
from tests.support.clients import Browser, csrf_in
from tests.support.proconnect import ProConnect, proconnect_provider
from tests.support.servers import free_port, serve

pytestmark = [pytest.mark.onboarding, pytest.mark.oidc]


@dataclass(frozen=True)
class Stack:
    """Parcours served with ProConnect on, and the provider it is registered with."""

    app_url: str
    provider: ProConnect

    def query_of(self, response: httpx.Response) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture(scope="module")
async def stack(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[Stack]:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    async with proconnect_provider(
        redirect_uri=f"{app_url}{SIGN_IN_RETURN}",
        post_logout_redirect_uri=f"{app_url}{SIGN_OUT_RETURN}",
    ) as provider:
        with_proconnect = settings.model_copy(
            update={
                "oidc_enabled": True,
                "oidc_issuer": provider.issuer,
                "oidc_client_id": provider.client_id,
                "oidc_client_secret": provider.client_secret,
                "public_app_url": app_url,
            }
        )
        server, task = await serve(create_app(with_proconnect, temporal=dev_env.client), port)
        try:
            yield Stack(app_url, provider)
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's cookies for Parcours and the provider (both on 127.0.0.1), no redirect
    followed unless a step says so."""
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=30) as client:
        yield client


def alert(response: httpx.Response) -> str:
    found = re.search(r'role="alert"><p>([^<]*)</p>', html.unescape(response.text))
    assert found, f"no error shown: {response.status_code} {response.text[:500]}"
    return found.group(1)


def new_email(name: str = "agent") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@test.parcours.fr"


async def proconnect_login_page(stack: Stack, browser: httpx.AsyncClient) -> httpx.Response:
    """Click "S'identifier avec ProConnect"; the provider's page it leads to."""
    return await stack.provider.follow(browser, await browser.get("/connexion/proconnect"))


async def back_from_provider(
    stack: Stack, browser: httpx.AsyncClient, email: str
) -> httpx.Response:
    """Sign in at the provider; its redirect back to Parcours (not followed yet)."""
    login_page = await proconnect_login_page(stack, browser)
    back = await stack.provider.log_in(browser, login_page, email)
    assert back.headers["location"].startswith(f"{stack.app_url}{SIGN_IN_RETURN}?"), back
    return back


async def sign_in_with_proconnect(
    stack: Stack, browser: httpx.AsyncClient, email: str
) -> httpx.Response:
    """The whole round trip; Parcours's answer on its return address."""
    back = await back_from_provider(stack, browser, email)
    return await browser.get(back.headers["location"])


async def accounts_with(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == email.lower())
        )
    return count or 0


def jwt_claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


# --- Signing in ---


async def test_an_invited_agent_signs_in_with_proconnect_the_first_time(
    stack: Stack, browser: httpx.AsyncClient, new_account: NewAccount
) -> None:
    """An account an administrator created with the agent's e-mail, never used (no password
    chosen): ProConnect opens it."""
    email = new_email("camille.agent")
    await new_account("referent", email=email, full_name="Camille Agent", password=False)
    # Identity providers do not all spell an address as it was typed in Parcours.
    as_the_provider_spells_it = email.replace("camille.agent", "Camille.Agent")
    stack.provider.knows(as_the_provider_spells_it, "Camille", "Agent")

    sign_in_page = await browser.get("/connexion")
    assert 'href="/connexion/proconnect"' in sign_in_page.text
    start = await browser.get("/connexion/proconnect")
    assert start.headers["location"].startswith(f"{stack.provider.issuer}/authorize?")
    asked = stack.query_of(start)
    assert asked["scope"] == "openid email given_name usual_name"
    assert asked["redirect_uri"] == f"{stack.app_url}{SIGN_IN_RETURN}"
    login_page = await stack.provider.follow(browser, start)
    assert login_page.status_code == 200, login_page.text
    back = await stack.provider.log_in(browser, login_page, as_the_provider_spells_it)
    answer = await browser.get(back.headers["location"])

    assert (answer.status_code, answer.headers.get("location")) == (303, "/parcours"), answer.text
    assert browser.cookies.get(SESSION_COOKIE)
    home = await browser.get("/parcours")
    assert home.status_code == 200
    assert 'id="signed-in-as">Camille Agent<' in html.unescape(home.text)


@pytest.mark.parametrize("who", ["unknown", "beneficiary"])
async def test_an_email_without_an_agent_account_is_refused(
    stack: Stack,
    browser: httpx.AsyncClient,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    who: str,
) -> None:
    email = new_email(who)
    if who == "beneficiary":
        # ProConnect is for agents: a person followed in Parcours signs in otherwise.
        await new_account("beneficiary", email=email)
    stack.provider.knows(email)
    before = await accounts_with(sessions, email)

    answer = await sign_in_with_proconnect(stack, browser, email)

    assert answer.status_code == 403
    assert alert(answer) == NO_AGENT_ACCOUNT
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert await accounts_with(sessions, email) == before  # no account created on the way


async def test_a_deactivated_account_is_refused(
    stack: Stack,
    browser: httpx.AsyncClient,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    email = new_email()
    account = await new_account("orientation", email=email)
    async with transaction(sessions) as session:
        await session.execute(update(User).where(User.id == account.id).values(active=False))
    stack.provider.knows(email)

    answer = await sign_in_with_proconnect(stack, browser, email)

    assert answer.status_code == 403
    assert alert(answer) == ACCOUNT_DEACTIVATED
    assert browser.cookies.get(SESSION_COOKIE) is None


# --- What the provider says, and what is checked of it ---


async def test_cancelling_at_the_provider_is_told_in_french(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    login_page = await proconnect_login_page(stack, browser)
    back = await stack.provider.cancel(browser, login_page)
    assert stack.query_of(back)["error"] == "access_denied"

    answer = await browser.get(back.headers["location"])
    # The same error sent by anyone, with no sign-in under way.
    bare = await browser.get(SIGN_IN_RETURN, params={"error": "access_denied"})

    for response in (answer, bare):
        assert response.status_code == 401
        assert alert(response) == CANCELLED
    assert browser.cookies.get(SESSION_COOKIE) is None


@pytest.mark.parametrize("state", ["forged", "missing", "another browser's"])
async def test_a_return_without_this_browsers_state_is_refused(
    stack: Stack, browser: httpx.AsyncClient, state: str
) -> None:
    email = new_email()
    stack.provider.knows(email)
    back = await back_from_provider(stack, browser, email)
    code = stack.query_of(back)["code"]

    if state == "another browser's":
        # A sign-in forced on someone else: the return, opened in a browser that started its
        # own sign-in.
        async with httpx.AsyncClient(base_url=stack.app_url, timeout=30) as victim:
            await victim.get("/connexion/proconnect")
            answer = await victim.get(back.headers["location"])
            assert victim.cookies.get(SESSION_COOKIE) is None
    else:
        params = {"code": code} | ({"state": uuid.uuid4().hex * 2} if state == "forged" else {})
        answer = await browser.get(f"{SIGN_IN_RETURN}?{urlencode(params)}")

    assert answer.status_code == 400
    assert alert(answer) == NO_SIGN_IN_UNDER_WAY
    assert browser.cookies.get(SESSION_COOKIE) is None


async def test_an_id_token_for_another_nonce_is_refused(
    stack: Stack, new_account: NewAccount, caplog: pytest.LogCaptureFixture
) -> None:
    """A code obtained in one sign-in, brought back under another sign-in's ``state``: the
    ``state`` matches and the code is good, but the id_token carries the first sign-in's
    ``nonce``."""
    email = new_email()
    await new_account("referent", email=email, password=False)
    stack.provider.knows(email)
    async with (
        httpx.AsyncClient(base_url=stack.app_url, timeout=30) as first,
        httpx.AsyncClient(base_url=stack.app_url, timeout=30) as second,
    ):
        code = stack.query_of(await back_from_provider(stack, first, email))["code"]
        started = await second.get("/connexion/proconnect")
        state = stack.query_of(started)["state"]

        with caplog.at_level(logging.INFO, logger="api.proconnect"):
            answer = await second.get(SIGN_IN_RETURN, params={"code": code, "state": state})

        assert answer.status_code == 400
        assert alert(answer) == UNVERIFIED
        assert second.cookies.get(SESSION_COOKIE) is None
    assert any("nonce" in str(getattr(r, "reason", "")) for r in caplog.records), caplog.text


async def test_an_unreachable_provider_is_told_in_french(
    settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    nobody = settings.model_copy(
        update={
            "oidc_enabled": True,
            "oidc_issuer": f"http://127.0.0.1:{free_port()}/api/v2",
            "oidc_client_id": "parcours",
            "oidc_client_secret": "secret",
        }
    )
    async with served(create_app(nobody, temporal=dev_env.client)) as client:
        answer = await client.get("/connexion/proconnect")

    assert answer.status_code == 503
    assert alert(answer) == UNREACHABLE


# --- Signing out ---


async def test_signing_out_ends_the_session_at_the_provider_too(
    stack: Stack, browser: httpx.AsyncClient, new_account: NewAccount
) -> None:
    email = new_email()
    await new_account("referent", email=email, password=False)
    agent = stack.provider.knows(email)
    assert (await sign_in_with_proconnect(stack, browser, email)).status_code == 303
    # While the provider's session lasts, it signs the agent in without asking.
    again = await proconnect_login_page(stack, browser)
    assert again.headers["location"].startswith(f"{stack.app_url}{SIGN_IN_RETURN}?")

    signed_out = await browser.post(
        "/deconnexion", data={"csrf_token": csrf_in((await browser.get("/parcours")).text)}
    )

    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith(f"{stack.provider.issuer}/session/end?")
    logout = stack.query_of(signed_out)
    assert logout["post_logout_redirect_uri"] == f"{stack.app_url}{SIGN_OUT_RETURN}"
    hint = jwt_claims(logout["id_token_hint"])
    assert (hint["sub"], hint["aud"]) == (agent.sub, stack.provider.client_id)
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert (await browser.get("/parcours")).headers["location"] == "/connexion?next=%2Fparcours"
    # The provider's page ends its session and sends the browser back with the state.
    logout_page = await stack.provider.follow(browser, signed_out)
    back = await stack.provider.confirm_logout(browser, logout_page)
    assert back.headers["location"] == (
        f"{stack.app_url}{SIGN_OUT_RETURN}?{urlencode({'state': logout['state']})}"
    )
    landed = await browser.get(back.headers["location"])
    assert (landed.status_code, landed.headers["location"]) == (303, "/connexion")
    # The next "S'identifier avec ProConnect" asks the agent to sign in at the provider.
    asked = await proconnect_login_page(stack, browser)
    assert asked.status_code == 200
    assert "Adresse électronique professionnelle" in asked.text


async def test_a_sign_out_return_without_this_browsers_state_is_refused(
    browser: httpx.AsyncClient,
) -> None:
    answer = await browser.get(SIGN_OUT_RETURN, params={"state": uuid.uuid4().hex * 2})

    assert answer.status_code == 400
    assert alert(answer) == NO_SIGN_OUT_UNDER_WAY


async def test_a_password_session_signs_out_at_parcours_only(
    stack: Stack, new_account: NewAccount
) -> None:
    account = await new_account("referent")
    password_browser = Browser(stack.app_url)
    try:
        assert (await password_browser.sign_in(account.email)).status_code == 303

        signed_out = await password_browser.post("/deconnexion")

        assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/connexion")
        assert password_browser.session_cookie is None
    finally:
        await password_browser.aclose()
