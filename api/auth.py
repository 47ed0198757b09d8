"""Who is calling: a browser session (cookie + CSRF token on every form) or an API client
(``Authorization: Bearer``). Pages send the unsigned-in to the sign-in page; the JSON API
answers 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from parcours.access.rules import Principal
from parcours.access.service import AccountService, SignedIn
from parcours.core.errors import Forbidden, Unauthenticated
from parcours.core.security import new_token, same
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


async def get_accounts(session: SessionDep, settings: SettingsDep) -> AccountService:
    return AccountService(session, settings)


AccountsDep = Annotated[AccountService, Depends(get_accounts)]


async def optional_principal(request: Request, accounts: AccountsDep) -> Principal | None:
    return await _from_request(request, accounts)


async def api_principal(request: Request, accounts: AccountsDep) -> Principal:
    """JSON API: a bearer token, or a browser session (with its CSRF header for writes)."""
    principal = await _from_request(request, accounts)
    if principal is None:
        raise Unauthenticated("Authentification requise (jeton d'API ou session).")
    if (
        request.method not in SAFE_METHODS
        and not getattr(request.state, "via_token", False)
        and not same(request.headers.get(CSRF_HEADER), request.state.csrf)
    ):
        raise Forbidden("Jeton CSRF manquant ou invalide (en-tête X-CSRF-Token).")
    return principal


async def page_principal(request: Request, accounts: AccountsDep) -> Principal:
    """Pages: a signed-in browser; every form post carries the session's CSRF token."""
    principal = await _from_request(request, accounts)
    if principal is None or getattr(request.state, "via_token", False):
        raise SignInRequired(request.url.path)
    if request.method not in SAFE_METHODS:
        form = await request.form()
        if not same(str(form.get(CSRF_FIELD, "")), request.state.csrf):
            raise Forbidden(
                "Le formulaire a expiré ou ne vient pas de Parcours : rechargez la page et "
                "recommencez."
            )
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


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
