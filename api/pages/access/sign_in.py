"""Sign-in and sign-out pages, invitation links, and ProConnect (OpenID Connect, off by
default) for agents."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import proconnect
from api.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    set_session_cookie,
    set_sign_in_csrf,
    sign_in_csrf,
)
from api.deps import AccountsDep, OptionalPrincipal, SettingsDep, SignInGuardDep
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden, ParcoursError, Unauthenticated
from parcours.core.security import same

router = APIRouter(include_in_schema=False)


def home_of(principal: Principal) -> str:
    homes = {
        Role.BENEFICIARY: "/mon-espace",
        Role.ADMIN: "/admin/effacements",
        Role.FUNDER: "/financeurs/demandes",
        Role.MANAGER: "/gestion/bloques",
        Role.DPO: "/admin/journal-des-acces",
    }
    return homes.get(principal.role, "/parcours")


def _safe_next(next_url: str | None) -> str | None:
    """Only local paths: never redirect to another site after sign-in."""
    if not next_url:
        return None
    parsed = urlparse(next_url)
    if parsed.scheme or parsed.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return None
    # Browsers read a backslash as a slash ("/\evil" is "//evil") and drop tabs and newlines.
    if "\\" in next_url or any(ord(c) < 0x20 or ord(c) == 0x7F for c in next_url):
        return None
    return next_url


def _sign_in_page(
    request: Request,
    settings: Any,
    *,
    error: str | None = None,
    email: str = "",
    next_url: str | None = None,
    status_code: int = 200,
) -> Response:
    token = sign_in_csrf(request)
    response = templates.TemplateResponse(
        request,
        "access/connexion.html",
        {
            "error": error,
            "email": email,
            "next": _safe_next(next_url) or "",
            "csrf_token": token,
            "oidc_enabled": settings.oidc_enabled,
        },
        status_code=status_code,
    )
    set_sign_in_csrf(response, token, settings)
    return response


@router.get("/connexion")
async def sign_in_form(
    request: Request, settings: SettingsDep, principal: OptionalPrincipal, next: str | None = None
) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(next) or home_of(principal), status_code=303)
    return _sign_in_page(request, settings, next_url=next)


@router.post("/connexion")
async def sign_in(
    request: Request, accounts: AccountsDep, guard: SignInGuardDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    next_url = str(form.get("next", ""))
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGN_IN_CSRF_COOKIE)):
        return _sign_in_page(
            request,
            settings,
            error="Le formulaire a expiré : recommencez.",
            email=email,
            next_url=next_url,
            status_code=403,
        )
    client = request.client.host if request.client else "inconnu"
    try:
        await guard.admit(email, client)
        try:
            signed_in = await accounts.sign_in(email, password)
        except Unauthenticated:
            await guard.failed(email, client)
            raise
    except ParcoursError as error:
        return _sign_in_page(
            request,
            settings,
            error=error.message,
            email=email,
            next_url=next_url,
            status_code=error.status_code,
        )
    await guard.succeeded(email, client)
    response = RedirectResponse(
        _safe_next(next_url) or home_of(signed_in.principal), status_code=303
    )
    set_session_cookie(response, signed_in, settings)
    return response


@router.post("/deconnexion")
async def sign_out(
    request: Request, accounts: AccountsDep, settings: SettingsDep, principal: OptionalPrincipal
) -> Response:
    provider_id_token = None
    if principal is not None and not getattr(request.state, "via_token", False):
        # A live session ends only from one of its own pages: another site's form (or a
        # stale one) must not sign the agent out.
        form = await request.form()
        if not same(str(form.get(CSRF_FIELD, "")), request.state.csrf):
            raise Forbidden(
                "Le formulaire a expiré ou ne vient pas de Parcours : rechargez la page et "
                "recommencez."
            )
    if token := request.cookies.get(SESSION_COOKIE):
        provider_id_token = await accounts.sign_out(token)
    response: Response | None = None
    if provider_id_token and settings.oidc_enabled:
        # Signed in through ProConnect: end the agent's session there too, or the next
        # "S'identifier avec ProConnect" signs them straight back in.
        response = await proconnect.sign_out_redirect(request, settings, provider_id_token)
    response = response or RedirectResponse("/connexion", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _reset_page(
    request: Request,
    settings: Any,
    *,
    sent: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = sign_in_csrf(request)
    response = templates.TemplateResponse(
        request,
        "access/password_reset.html",
        {"sent": sent, "error": error, "csrf": token},
        status_code=status_code,
    )
    set_sign_in_csrf(response, token, settings)
    return response


@router.get("/mot-de-passe-oublie")
async def password_reset_form(request: Request, settings: SettingsDep) -> Response:
    return _reset_page(request, settings)


@router.post("/mot-de-passe-oublie")
async def request_password_reset(
    request: Request, accounts: AccountsDep, settings: SettingsDep
) -> Response:
    """The same answer whether the address has an account or not: nobody learns who has one."""
    form = await request.form()
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGN_IN_CSRF_COOKIE)):
        return _reset_page(
            request, settings, error="Le formulaire a expiré : recommencez.", status_code=403
        )
    # The mail (if any) leaves once the request commits.
    await accounts.request_password_reset(str(form.get("email", "")))
    return _reset_page(request, settings, sent=True)


def _invitation_page(
    request: Request,
    settings: Any,
    token: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    csrf = sign_in_csrf(request)
    response = templates.TemplateResponse(
        request,
        "access/activation.html",
        {"token": token, "error": error, "csrf": csrf},
        status_code=status_code,
    )
    set_sign_in_csrf(response, csrf, settings)
    return response


@router.get("/activation/{token}")
async def invitation_form(request: Request, token: str, settings: SettingsDep) -> Response:
    return _invitation_page(request, settings, token)


@router.post("/activation/{token}")
async def accept_invitation(
    request: Request, token: str, accounts: AccountsDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    # The form's own token, as for signing in: another site must not post its own invitation
    # link from the visitor's browser and sign them into the account it made.
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGN_IN_CSRF_COOKIE)):
        return _invitation_page(
            request, settings, token, error="Le formulaire a expiré : recommencez.", status_code=403
        )
    password, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    if password != confirm:
        return _invitation_page(
            request,
            settings,
            token,
            error="Les deux mots de passe ne sont pas identiques.",
            status_code=422,
        )
    try:
        signed_in = await accounts.accept_invitation(token, password)
    except ParcoursError as error:
        return _invitation_page(
            request, settings, token, error=error.message, status_code=error.status_code
        )
    response = RedirectResponse(home_of(signed_in.principal), status_code=303)
    set_session_cookie(response, signed_in, settings)
    return response


@router.get("/connexion/proconnect")
async def proconnect_start(request: Request, settings: SettingsDep) -> Response:
    if not settings.oidc_enabled:
        return RedirectResponse("/connexion", status_code=303)
    try:
        return await proconnect.sign_in_redirect(request, settings)
    except ParcoursError as error:
        return _sign_in_page(request, settings, error=error.message, status_code=error.status_code)


@router.get(proconnect.SIGN_IN_RETURN)
async def proconnect_callback(
    request: Request, accounts: AccountsDep, settings: SettingsDep
) -> Response:
    """Agents only: the e-mail ProConnect vouches for must be an active professional
    account's."""
    if not settings.oidc_enabled:
        return RedirectResponse("/connexion", status_code=303)
    try:
        identity = await proconnect.identity(request)
        signed_in = await accounts.sign_in_as_agent(
            identity.email, provider_id_token=identity.id_token
        )
    except ParcoursError as error:
        return _sign_in_page(request, settings, error=error.message, status_code=error.status_code)
    response = RedirectResponse(home_of(signed_in.principal), status_code=303)
    set_session_cookie(response, signed_in, settings)
    return response


@router.get(proconnect.SIGN_OUT_RETURN)
async def proconnect_signed_out(request: Request, settings: SettingsDep) -> Response:
    if settings.oidc_enabled:
        try:
            await proconnect.check_sign_out_return(request)
        except ParcoursError as error:
            return _sign_in_page(
                request, settings, error=error.message, status_code=error.status_code
            )
    return RedirectResponse("/connexion", status_code=303)
