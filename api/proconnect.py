"""ProConnect, the État's OpenID Connect for public agents (off by default): the client's
registration, the sign-in round trip (``state``, ``nonce``, the id_token, the signed userinfo)
and the logout at the provider, as ProConnect documents them for its service providers. Every
way the round trip can fail becomes a ``ParcoursError`` with a French message."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.middleware.sessions import SessionMiddleware

from parcours.core.errors import ParcoursError, Unauthenticated, Unavailable
from parcours.core.security import new_token
from parcours.core.settings import Settings

with warnings.catch_warnings():
    # authlib sets its warnings to "always" when first imported: that first, then ours over it.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    # authlib's Starlette client imports its httpx one, which announces a rename we do not use.
    from authlib.integrations.starlette_client import OAuth, OAuthError
    from authlib.integrations.starlette_client import StarletteOAuth2App as OAuthClient

log = logging.getLogger(__name__)

# The two return addresses to declare to ProConnect (after ``public_app_url``).
SIGN_IN_RETURN = "/connexion/proconnect/retour"
SIGN_OUT_RETURN = "/deconnexion/proconnect/retour"

CANCELLED = (
    "Connexion avec ProConnect annulée : recommencez, ou connectez-vous avec votre mot de passe."
)
NO_SIGN_IN_UNDER_WAY = (
    "Cette réponse de ProConnect ne correspond à aucune connexion en cours dans ce navigateur : "
    "recommencez."
)
UNVERIFIED = "La réponse de ProConnect n'a pas pu être vérifiée : recommencez."
UNREACHABLE = (
    "ProConnect ne répond pas : réessayez dans un instant, "
    "ou connectez-vous avec votre mot de passe."
)
NO_SIGN_OUT_UNDER_WAY = (
    "Vous êtes déconnecté·e de Parcours, mais ce retour de ProConnect ne correspond à aucune "
    "déconnexion en cours dans ce navigateur."
)


@dataclass(frozen=True)
class ProConnectIdentity:
    """Who ProConnect says signed in, and its id_token (the logout there needs it back)."""

    email: str
    id_token: str


def configure(app: FastAPI, settings: Settings) -> None:
    """Register the client; the round trip's ``state`` and ``nonce`` live in a signed cookie
    for its few minutes only."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="parcours_oidc",
        https_only=settings.secure_cookies,
        max_age=600,
    )
    oauth = OAuth()
    oauth.register(
        "proconnect",
        server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        # ProConnect takes the secret in the token request's body.
        client_kwargs={
            "scope": settings.oidc_scopes,
            "token_endpoint_auth_method": "client_secret_post",
        },
    )
    app.state.proconnect = oauth.create_client("proconnect")


def return_address(settings: Settings, path: str) -> str:
    """The address ProConnect sends the browser back to: exactly the one declared to it,
    whatever host name the request came in by."""
    return f"{settings.public_app_url.rstrip('/')}{path}"


def _client(request: Request) -> OAuthClient:
    client: OAuthClient = request.app.state.proconnect
    return client


async def sign_in_redirect(request: Request, settings: Settings) -> Response:
    """To the provider's sign-in, with a fresh ``state`` and ``nonce`` (ProConnect wants at
    least 32 characters of each)."""
    try:
        response: Response = await _client(request).authorize_redirect(
            request,
            return_address(settings, SIGN_IN_RETURN),
            state=new_token(),
            nonce=new_token(),
        )
    except httpx.HTTPError as error:
        log.warning("proconnect unreachable", extra={"reason": repr(error)})
        raise Unavailable(UNREACHABLE) from error
    return response


async def identity(request: Request) -> ProConnectIdentity:
    """The provider's answer on the sign-in return address, checked: the ``state`` is the one
    this browser was sent with, the code is exchanged, the id_token is signed by the provider
    for this client with this browser's ``nonce``, and the userinfo is about the same person."""
    client = _client(request)
    try:
        token = await client.authorize_access_token(request)
        id_claims = token.get("userinfo")
        if not id_claims:
            raise ParcoursError(UNVERIFIED)
        claims = await _userinfo(client, token)
        if claims.get("sub") != id_claims.get("sub"):
            raise ParcoursError(UNVERIFIED)
    except OAuthError as error:
        log.info("proconnect sign-in refused", extra={"reason": repr(error)})
        if error.error == "mismatching_state":
            raise ParcoursError(NO_SIGN_IN_UNDER_WAY) from error
        if error.error == "access_denied":
            raise Unauthenticated(CANCELLED) from error
        raise ParcoursError(UNVERIFIED) from error
    except JoseError as error:
        log.warning("proconnect sign-in refused", extra={"reason": repr(error)})
        raise ParcoursError(UNVERIFIED) from error
    except httpx.HTTPError as error:
        log.warning("proconnect unreachable", extra={"reason": repr(error)})
        raise Unavailable(UNREACHABLE) from error
    return ProConnectIdentity(str(claims.get("email") or ""), str(token["id_token"]))


async def _userinfo(client: OAuthClient, token: dict[str, Any]) -> dict[str, Any]:
    """ProConnect's userinfo answer is a JWT (``application/jwt``) signed like the id_token;
    plain JSON is read too."""
    metadata = await client.load_server_metadata()
    response: httpx.Response = await client.get(metadata["userinfo_endpoint"], token=token)
    response.raise_for_status()
    if response.headers.get("content-type", "").split(";")[0].strip() != "application/jwt":
        claims: dict[str, Any] = response.json()
        return claims
    keys = KeySet.import_key_set(await client.fetch_jwk_set())
    decoded = jwt.decode(
        response.text,
        keys,
        algorithms=metadata.get("userinfo_signing_alg_values_supported") or ["RS256"],
    )
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client.client_id},
    ).validate(decoded.claims)
    return dict(decoded.claims)


async def sign_out_redirect(request: Request, settings: Settings, id_token: str) -> Response | None:
    """To the provider's end of session, which sends the browser back to Parcours; None when
    the provider cannot be reached (the sign-out at Parcours is done all the same)."""
    try:
        response: Response = await _client(request).logout_redirect(
            request,
            post_logout_redirect_uri=return_address(settings, SIGN_OUT_RETURN),
            id_token_hint=id_token,
            state=new_token(),
        )
    except httpx.HTTPError as error:
        log.warning("proconnect unreachable at sign-out", extra={"reason": repr(error)})
        return None
    response.status_code = 303
    return response


async def check_sign_out_return(request: Request) -> None:
    """The provider's return after the logout carries the ``state`` this browser left with."""
    try:
        await _client(request).validate_logout_response(request)
    except OAuthError as error:
        log.info("proconnect sign-out return refused", extra={"reason": repr(error)})
        raise ParcoursError(NO_SIGN_OUT_UNDER_WAY) from error
