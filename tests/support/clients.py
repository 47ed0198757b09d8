"""Clients that act as a signed-in user: ``ApiClients`` (the JSON API with each user's bearer
token), ``Browser`` (cookies kept, forms posted with their CSRF token), ``signed_in`` and
``Browsers`` (browsers signed in through the sign-in page)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api.auth import SESSION_COOKIE
from tests.support.accounts import STAFF_PASSWORD, Account, Staff


class ApiClients:
    """Clients of the JSON API, each sending one user's bearer token: ``api.orientation``,
    ``api("manager")``, ``api(account)``. Created on first use, closed with the fixture."""

    def __init__(self, base_url: str, staff: Staff) -> None:
        self.base_url, self.staff = base_url, staff
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __call__(self, who: str | Account = "referent") -> httpx.AsyncClient:
        account = self.staff[who] if isinstance(who, str) else who
        if account.id not in self._clients:
            self._clients[account.id] = httpx.AsyncClient(
                base_url=self.base_url, timeout=60, headers=account.headers
            )
        return self._clients[account.id]

    @property
    def referent(self) -> httpx.AsyncClient:
        return self("referent")

    @property
    def other_referent(self) -> httpx.AsyncClient:
        return self("other_referent")

    @property
    def orientation(self) -> httpx.AsyncClient:
        return self("orientation")

    @property
    def manager(self) -> httpx.AsyncClient:
        return self("manager")

    @property
    def funder(self) -> httpx.AsyncClient:
        return self("funder")

    @property
    def admin(self) -> httpx.AsyncClient:
        return self("admin")

    @property
    def outsider(self) -> httpx.AsyncClient:
        return self("outsider")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


@asynccontextmanager
async def api_clients(base_url: str, staff: Staff) -> AsyncIterator[ApiClients]:
    clients = ApiClients(base_url, staff)
    try:
        yield clients
    finally:
        await clients.aclose()


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_in(page: str) -> str:
    """The CSRF token a page's forms carry ("" when it has none)."""
    found = _CSRF_INPUT.search(page)
    return found.group(1) if found else ""


class Browser:
    """A browser as the pages see it: it keeps its cookies, does not follow redirects, and
    posts every form with the CSRF token its page carried."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=60, **kwargs)
        self.csrf = ""

    async def sign_in(
        self, email: str, password: str = STAFF_PASSWORD, next: str | None = None
    ) -> httpx.Response:
        """Open the sign-in page, submit it; once in, keep the session's CSRF token."""
        form_page = await self.client.get("/connexion", params={"next": next} if next else None)
        response = await self.client.post(
            "/connexion",
            data={
                "email": email,
                "password": password,
                "next": next or "",
                "csrf_token": csrf_in(form_page.text),
            },
        )
        if response.status_code == 303:
            self.csrf = csrf_in((await self.client.get(response.headers["location"])).text)
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post(
        self, url: str, data: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    @property
    def session_cookie(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def signed_in(
    base_url: str, email: str, password: str = STAFF_PASSWORD
) -> AsyncIterator[Browser]:
    browser = Browser(base_url)
    try:
        response = await browser.sign_in(email, password)
        assert response.status_code == 303, response.text
        yield browser
    finally:
        await browser.aclose()


class Browsers:
    """Signed-in browsers on the test app, one per user: ``await browsers("orientation")``."""

    def __init__(self, base_url: str, staff: Staff) -> None:
        self.base_url, self.staff = base_url, staff
        self._open: dict[str, Browser] = {}

    async def __call__(self, who: str | Account = "referent") -> Browser:
        account = self.staff[who] if isinstance(who, str) else who
        if account.id not in self._open:
            browser = Browser(self.base_url)
            response = await browser.sign_in(account.email)
            assert response.status_code == 303, response.text
            self._open[account.id] = browser
        return self._open[account.id]

    async def aclose(self) -> None:
        for browser in self._open.values():
            await browser.aclose()
