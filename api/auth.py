"""Who is calling: a browser session (cookie + CSRF token on every form) or an API client
(``Authorization: Bearer``). Pages send the unsigned-in to the sign-in page; the JSON API
answers 401."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parcours.access.rules import Principal
from parcours.access.service import AccountService, SignedIn
from parcours.core.security import new_token
from parcours.core.settings import Settings

SESSION_COOKIE = "parcours_session"
SIGN_IN_CSRF_COOKIE = "parcours_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """Raised by page dependencies; rendered as a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


async def _from_request(request: Request, accounts: AccountService) -> Principal | None:
    """Resolve the caller once per request (cached on ``request.state``)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    request.state.csrf = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        principal = await accounts.token_principal(authorization[7:].strip())
        request.state.via_token = True
    elif token := request.cookies.get(SESSION_COOKIE):
        found = await accounts.session_principal(token)
        if found:
            principal, request.state.csrf = found
    request.state.principal = principal
    return principal


def set_session_cookie(response: Response, signed_in: SignedIn, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.session_token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/")


def sign_in_csrf(request: Request) -> str:
    """Double-submit token for the sign-in form (there is no session yet)."""
    return request.cookies.get(SIGN_IN_CSRF_COOKIE) or new_token()


def set_sign_in_csrf(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
