"""The FastAPI application: lifespan (database engine and Temporal client, created once),
error rendering, metrics, the JSON API and the pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import (
    http_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, InterfaceError
from starlette.exceptions import HTTPException
from temporalio.client import Client

from api import metrics, proconnect
from api.auth import SESSION_COOKIE, SignInRequired, _from_request
from api.headers import SecurityHeaders
from api.openapi import describe_errors
from api.pages import appointments as appointment_pages
from api.pages import exits as exit_pages
from api.pages import inbox as inbox_pages
from api.pages import indicators as indicator_pages
from api.pages import journey as journey_pages
from api.pages import management as management_pages
from api.pages import partners as partner_pages
from api.pages import reorientation as reorientation_pages
from api.pages import resources as resource_pages
from api.pages import sanctions as sanction_pages
from api.pages import training_requests as training_request_pages
from api.pages.access import router as access_pages
from api.pages.carnet import router as carnet_pages
from api.pages.carnet.consent_links import remedy_of
from api.routes import (
    access,
    appointments,
    carnet,
    exits,
    health,
    inbox,
    indicators,
    journey,
    management,
    orientations,
    partners,
    reorientation,
    resources,
    sanctions,
    sms,
    training_requests,
)
from api.templating import domain_error_page, error_page
from api.tracing import trace_requests
from parcours.access.service import AccountService
from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.errors import InvalidReference, ParcoursError, Unavailable
from parcours.core.heap import freeze_startup_objects
from parcours.core.security import same
from parcours.core.settings import ROOT, Settings, get_settings
from parcours.core.temporal import connect

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    "La base de données de Parcours ne répond pas pour l'instant : réessayez dans quelques "
    "instants (une action renvoyée n'est appliquée qu'une fois)."
)

DSFR_DIST = ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"
# What answers JSON when it fails: the API, and the machines' own addresses.
JSON_PATHS = ("/api/", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc")
# What the framework answers in English, said in French.
IN_FRENCH = {
    "There was an error parsing the body": (
        "Corps de la requête illisible : un JSON (ou un formulaire) bien formé est attendu."
    ),
    "Invalid multipart data.": "Fichier envoyé illisible : un envoi multipart bien formé attendu.",
    "Not Found": "Cette adresse n'existe pas dans l'API.",
    "Method Not Allowed": "Cette adresse n'accepte pas cette méthode.",
}

VALUE_REFUSED = (
    "Une valeur envoyée ne peut pas être enregistrée (caractère nul, nombre ou date hors "
    "limites) : corrigez-la et renvoyez la demande."
)


def answers_json(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith(JSON_PATHS)


async def _who_is_there(request: Request) -> None:
    """Who is signed in, for the header of an error page whose route never asked (an unknown
    address): best effort, in a transaction of its own that writes nothing."""
    if hasattr(request.state, "principal") or SESSION_COOKIE not in request.cookies:
        return
    try:
        async with request.app.state.sessions() as session:
            await _from_request(request, AccountService(session, request.app.state.settings))
            await session.rollback()
    except Exception:  # the error page shows without the name rather than not at all
        log.warning("signed-in user not found for an error page", exc_info=True)


def create_app(
    settings: Settings | None = None,
    temporal: Client | None = None,
    *,
    whole_process: bool = False,
) -> FastAPI:
    """``whole_process``: the application is what its process is for (``parcours api``);
    once started, what start-up made is set aside from the garbage collector
    (``parcours.core.heap``). Not for an application among others in one process (the tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessions = create_sessionmaker(engine)
        app.state.temporal = temporal or await connect(settings)
        if whole_process:
            freeze_startup_objects()
        log.info("api ready", extra={"database": engine.url.render_as_string(hide_password=True)})
        yield
        await engine.dispose()

    app = FastAPI(
        title="Parcours",
        version="1",
        description="Orientation et accompagnement — service public de l'insertion et de l'emploi.",
        lifespan=lifespan,
    )
    describe_errors(app)
    app.add_middleware(metrics.MetricsMiddleware)
    app.add_middleware(SecurityHeaders, production=settings.environment == "production")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, error: SignInRequired) -> Response:
        return RedirectResponse(f"/connexion?{urlencode({'next': error.next_url})}", 303)

    @app.exception_handler(ParcoursError)
    async def _domain_error(request: Request, error: ParcoursError) -> Response:
        if answers_json(request):
            body: dict[str, object] = {"detail": error.message}
            remedy = remedy_of(error)
            if remedy is not None:
                # A missing consent: the page where it is recorded, and the call that does it.
                body["remedy"] = asdict(remedy)
            return JSONResponse(body, status_code=error.status_code)
        return domain_error_page(request, error)

    # Pages answer a French page for an unknown address, a wrong method or parameter, and an
    # unexpected failure; the JSON API keeps FastAPI's JSON.
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> Response:
        if answers_json(request):
            if error.detail in IN_FRENCH:
                error = HTTPException(error.status_code, IN_FRENCH[error.detail], error.headers)
            return await http_exception_handler(request, error)
        await _who_is_there(request)
        return error_page(request, error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
        if answers_json(request):
            # Which field and why, never the value sent back (a NIR, an address…).
            return JSONResponse(
                {"detail": jsonable_encoder([_without_input(e) for e in error.errors()])},
                status_code=422,
            )
        return error_page(
            request, 400, "L'adresse de la page contient une valeur qui n'est pas valide."
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        # Starlette logs the exception and raises it again once this answer is sent.
        if answers_json(request):
            return JSONResponse(
                {"detail": "Erreur inattendue : rien n'a été enregistré."}, status_code=500
            )
        try:
            return error_page(request, 500)
        except Exception:  # the page itself failed: plain words, still French
            return Response(
                "Erreur inattendue : rien n'a été enregistré.",
                status_code=500,
                media_type="text/plain; charset=utf-8",
            )

    @app.exception_handler(DBAPIError)
    async def _database_down(request: Request, error: DBAPIError) -> Response:
        """The database dropped the connection or refused it (restarting, failing over): a
        French 503, the request's transaction rolled back. A value the database cannot take
        (SQLSTATE class 22: a NUL character, a number out of its range), sent by the client:
        a 422 that says so. Anything else is a bug: 500."""
        if _sqlstates(error) and all(s.startswith("22") for s in _sqlstates(error)):
            log.warning("value refused by the database", extra={"sqlstate": _sqlstates(error)[0]})
            return await _domain_error(request, InvalidReference(VALUE_REFUSED))
        if not (error.connection_invalidated or _is_connection_error(error)):
            raise error
        log.warning("database unavailable", extra={"error": type(error.orig).__name__})
        return await _domain_error(request, Unavailable(DATABASE_DOWN))

    @app.exception_handler(ConnectionError)
    async def _connection_refused(request: Request, error: ConnectionError) -> Response:
        """Opening a database connection while the server is down raises the socket's own
        error (refused, reset), unwrapped by the driver: the same French 503."""
        log.warning("database unavailable", extra={"error": type(error).__name__})
        return await _domain_error(request, Unavailable(DATABASE_DOWN))

    @app.get("/metrics", include_in_schema=False)
    async def _metrics(request: Request) -> Response:
        if settings.metrics_token:
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not same(given, settings.metrics_token):
                return JSONResponse(
                    {"detail": "Jeton des métriques requis (Authorization: Bearer …)."},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        elif settings.environment == "production":
            return JSONResponse(
                {"detail": "Métriques désactivées : définir PARCOURS_METRICS_TOKEN."},
                status_code=404,
            )
        return metrics.metrics_response()

    if settings.oidc_enabled:
        proconnect.configure(app, settings)
    for routes in (
        health,
        access,
        journey,
        carnet,
        resources,
        partners,
        management,
        training_requests,
        orientations,
        indicators,
        inbox,
        sms,
        appointments,
        exits,
        reorientation,
        sanctions,
    ):
        app.include_router(routes.router)
    # The journey's pages first: /parcours/nouveau must win over the carnet's /parcours/{id}.
    for pages in (
        access_pages,
        journey_pages,
        carnet_pages,
        resource_pages,
        management_pages,
        training_request_pages,
        indicator_pages,
        exit_pages,
        partner_pages,
        inbox_pages,
        appointment_pages,
        reorientation_pages,
        sanction_pages,
    ):
        app.include_router(pages.router)
    if DSFR_DIST.exists():
        app.mount("/static/dsfr", StaticFiles(directory=DSFR_DIST), name="dsfr")

        # Where browsers look for it before reading the page's <link rel="icon">.
        @app.get("/favicon.ico", include_in_schema=False)
        async def _favicon() -> Response:
            return FileResponse(DSFR_DIST / "favicon" / "favicon.ico", media_type="image/x-icon")

    app.mount("/static/app", StaticFiles(directory=ROOT / "api" / "static"), name="app-static")
    trace_requests(app)
    return app


def _without_input(error: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(error).items() if k not in ("input", "url")}


def _sqlstates(error: DBAPIError) -> list[str]:
    """The SQLSTATE codes along the driver's chain (PostgreSQL's; none on SQLite)."""
    found = []
    seen: BaseException | None = error.orig
    while seen is not None:
        state = str(getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None) or "")
        if state:
            found.append(state)
        seen = seen.__cause__
    return found


def _is_connection_error(error: DBAPIError) -> bool:
    """A lost or refused connection: SQLSTATE class 08 (connection exception) or 57P (the
    server shutting down, starting up), or the socket itself, wherever the driver's chain
    carries it."""
    if isinstance(error, InterfaceError):
        return True
    seen: BaseException | None = error.orig
    while seen is not None:
        state = str(getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None) or "")
        if state.startswith(("08", "57P")) or isinstance(seen, ConnectionError):
            return True
        seen = seen.__cause__
    return False
