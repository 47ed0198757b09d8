"""ProConnect in the tests: a real OpenID Connect provider process (``oidc/provider.mjs``,
panva's ``oidc-provider`` installed by ``npm ci``) configured as ProConnect is, started on a
free port with Parcours as its client, the agents it knows, and a browser's steps on its
pages (its sign-in form, its cancel button, its logout page)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

PROVIDER_SCRIPT = Path(__file__).parent / "oidc" / "provider.mjs"
_FORM = re.compile(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)"')


@dataclass(frozen=True)
class Agent:
    """Someone ProConnect knows: their e-mail, and the ``sub`` it gives Parcours for them."""

    email: str
    sub: str
    given_name: str
    usual_name: str


class ProConnect:
    """The running provider: its issuer, the client Parcours is registered as, its agents."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, accounts: Path) -> None:
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.origin = issuer.split("/api/", 1)[0]
        self._accounts_file = accounts
        self._accounts: dict[str, dict[str, str]] = {}

    def knows(self, email: str, given_name: str = "Camille", usual_name: str = "Agent") -> Agent:
        """An agent the provider can sign in (read by the provider at each sign-in)."""
        agent = Agent(email, f"sub-{uuid.uuid4().hex}", given_name, usual_name)
        self._accounts[email] = {
            "sub": agent.sub,
            "given_name": given_name,
            "usual_name": usual_name,
        }
        self._accounts_file.write_text(json.dumps(self._accounts))
        return agent

    def at_provider(self, url: str) -> bool:
        return url.startswith(f"{self.origin}/")

    async def follow(self, browser: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
        """Follow the redirects that lead to or stay at the provider; return the provider's
        page, or its redirect back to the service."""
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if not self.at_provider(location):
                break
            response = await browser.get(location)
        return response

    async def log_in(
        self, browser: httpx.AsyncClient, login_page: httpx.Response, email: str
    ) -> httpx.Response:
        """Fill the provider's sign-in form; return its redirect back to the service."""
        assert "Adresse électronique professionnelle" in login_page.text, login_page.text
        action = self._form_action(login_page, "/login")
        return await self.follow(browser, await browser.post(action, data={"email": email}))

    async def cancel(
        self, browser: httpx.AsyncClient, login_page: httpx.Response
    ) -> httpx.Response:
        """Press the provider's cancel button; return its redirect back to the service."""
        action = self._form_action(login_page, "/abort")
        return await self.follow(browser, await browser.post(action))

    async def confirm_logout(
        self, browser: httpx.AsyncClient, logout_page: httpx.Response
    ) -> httpx.Response:
        """What the logout page's script does: submit its form. Returns the redirect back."""
        action, form = _FORM.findall(logout_page.text)[0]
        posted = await browser.post(
            urljoin(str(logout_page.url), action), data=dict(_HIDDEN.findall(form))
        )
        return await self.follow(browser, posted)

    def _form_action(self, page: httpx.Response, ending: str) -> str:
        actions = [action for action, _ in _FORM.findall(page.text) if action.endswith(ending)]
        assert actions, f"no {ending} form on the provider's page: {page.text}"
        return urljoin(str(page.url), actions[0])


@asynccontextmanager
async def proconnect_provider(
    redirect_uri: str, post_logout_redirect_uri: str
) -> AsyncIterator[ProConnect]:
    """The provider process, with Parcours registered for these return addresses."""
    node = shutil.which("node")
    assert node, "Node.js is needed for the ProConnect tests"
    with tempfile.TemporaryDirectory(prefix="proconnect-") as folder:
        accounts = Path(folder) / "accounts.json"
        accounts.write_text("{}")
        config = Path(folder) / "config.json"
        client_id, client_secret = "parcours-tests", uuid.uuid4().hex * 2
        config.write_text(
            json.dumps(
                {
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "redirect_uris": [redirect_uri],
                    "post_logout_redirect_uris": [post_logout_redirect_uri],
                    "accounts_file": str(accounts),
                }
            )
        )
        log = Path(folder) / "provider.log"
        with log.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                node,
                str(PROVIDER_SCRIPT),
                str(config),
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
            )
            try:
                assert process.stdout is not None
                try:
                    ready = await asyncio.wait_for(process.stdout.readline(), timeout=30)
                except TimeoutError:
                    ready = b""
                if not ready:
                    raise RuntimeError(f"the OIDC provider did not start: {log.read_text()}")
                issuer = json.loads(ready)["issuer"]
                yield ProConnect(issuer, client_id, client_secret, accounts)
            finally:
                if process.returncode is None:
                    process.terminate()
                await process.wait()
