"""Dependencies, defined once as ``Annotated`` aliases.

All ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop per
dependency and per request for what is an attribute read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import BackgroundTasks, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.auth import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, SignInRequired, _from_request
from api.pages.carnet.view import CarnetPages
from parcours.access.access_log import AccessLogService
from parcours.access.read_log import commit_turn
from parcours.access.rules import Principal
from parcours.access.service import (
    AccountService,
    AdminService,
    record_seen,
    record_token_use,
    sessions_seen,
    tokens_used,
)
from parcours.access.throttle import SignInGuard
from parcours.appointments.service import AppointmentService, BookingService
from parcours.carnet.service import CarnetService, ErasureService
from parcours.core.db import erased, leave_no_copy
from parcours.core.errors import Forbidden, Unauthenticated
from parcours.core.outbox import enqueued, send_outbox
from parcours.core.security import same
from parcours.core.settings import Settings
from parcours.inbox.service import InboxService, has_inbox
from parcours.indicators.service import IndicatorService, JourneyStoryService
from parcours.journey.service import JourneyService
from parcours.management.service import ManagementService
from parcours.orientations.service import ServiceOrientationService
from parcours.partners.caf_import import CafImportService
from parcours.partners.callbacks import PartnerCallbackService
from parcours.partners.lookups import LookupService
from parcours.partners.rules import ensure_caf_importer
from parcours.resources.service import ResourceBaseService
from parcours.sanctions.service import SanctionService
from parcours.training_requests.service import FunderConsoleService, TrainingRequestService

# Numbers a client sends, bounded by what the database holds (a 32-bit integer key; no list
# is paged that far): out of range is a 422, never the database's error.
MAX_ROW_ID = 2**31 - 1
MAX_OFFSET = 1_000_000
MAX_PAGE = 10_000
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]

log = logging.getLogger(__name__)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request, after: BackgroundTasks) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, else rolled back.
    The mails the request enqueued (``parcours.core.outbox``) are sent once it committed."""
    async with request.app.state.sessions() as session:
        try:
            yield session
            async with commit_turn(session):
                await session.commit()
        except BaseException:
            await session.rollback()
            raise
    if used := tokens_used(session):
        after.add_task(_record_token_use, request.app.state.sessions, used)
    if seen := sessions_seen(session):
        after.add_task(_record_seen, request.app.state.sessions, seen)
    if erased(session):
        after.add_task(_leave_no_copy, request.app.state.sessions)
    if mails := enqueued(session):
        # After the response: the user does not wait for SMTP, and the mails the SMTP server
        # does not take now are the outbox workflow's, within a minute.
        after.add_task(_send_mails, request.app.state.sessions, request.app.state.settings, mails)


async def _record_token_use(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    try:
        await record_token_use(sessions, ids)
    except Exception:  # a last-use date is not worth an error: the next request tries again
        log.warning("token use not recorded", exc_info=True)


async def _record_seen(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    try:
        await record_seen(sessions, ids)
    except Exception:  # the next request tries again
        log.warning("session's last request not recorded", exc_info=True)


async def _leave_no_copy(sessions: async_sessionmaker[AsyncSession]) -> None:
    try:
        await leave_no_copy(sessions)
    except Exception:  # the next erasure, or SQLite's own checkpoint, does it
        log.warning("write-ahead log not emptied after an erasure", exc_info=True)


async def _send_mails(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, mails: list[str]
) -> None:
    try:
        await send_outbox(sessions, settings, mails)
    except Exception:  # the database failed us: the outbox workflow sends them instead
        log.exception("mails not sent after the request", extra={"mails": len(mails)})


SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
# Ended with the endpoint, before the response is sent: a client told "done" finds its
# change committed (by default FastAPI ends a ``yield`` dependency after sending). The
# background tasks it adds then still run after the response (the request's one
# ``BackgroundTasks``, already attached to the response).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_journey_service(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> JourneyService:
    return JourneyService(session, temporal, settings)


JourneyServiceDep = Annotated[JourneyService, Depends(get_journey_service)]


async def get_accounts(session: SessionDep, settings: SettingsDep) -> AccountService:
    return AccountService(session, settings)


AccountsDep = Annotated[AccountService, Depends(get_accounts)]


def get_sign_in_guard(request: Request) -> SignInGuard:
    return SignInGuard(request.app.state.sessions, request.app.state.settings)


SignInGuardDep = Annotated[SignInGuard, Depends(get_sign_in_guard)]


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


async def page_principal(request: Request, accounts: AccountsDep, session: SessionDep) -> Principal:
    """Pages: a signed-in browser; every form post carries the session's CSRF token. The
    header's « À traiter » count is read here, once per page."""
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
    elif has_inbox(principal):
        request.state.inbox_count = await InboxService(session, principal).count()
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


PagePrincipal = Annotated[Principal, Depends(page_principal)]


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def get_carnet_pages(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
) -> CarnetPages:
    carnet = CarnetService(session, temporal, settings, principal)
    return CarnetPages(request, session, settings, carnet, principal)


CarnetPagesDep = Annotated[CarnetPages, Depends(get_carnet_pages)]


# Most services act for someone: built from the request's transaction, the Temporal client, the
# settings and who is calling — through the JSON API (a token or a session with its CSRF
# header) or a page (a signed-in browser).
S = TypeVar("S")
ActingService = Callable[[AsyncSession, Client, Settings, Principal], S]


def for_api(service: ActingService[S]) -> Callable[..., Awaitable[S]]:
    async def provide(
        session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: ApiPrincipal
    ) -> S:
        return service(session, temporal, settings, principal)

    return provide


def for_pages(service: ActingService[S]) -> Callable[..., Awaitable[S]]:
    async def provide(
        session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: PagePrincipal
    ) -> S:
        return service(session, temporal, settings, principal)

    return provide


async def get_inbox(session: SessionDep, principal: ApiPrincipal) -> InboxService:
    return InboxService(session, principal)


async def get_inbox_page(session: SessionDep, principal: PagePrincipal) -> InboxService:
    return InboxService(session, principal)


async def get_booking(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> BookingService:
    """The person's booking link: no account, the link's token is the key."""
    return BookingService(session, temporal, settings)


BookingDep = Annotated[BookingService, Depends(get_booking)]
AppointmentsDep = Annotated[AppointmentService, Depends(for_api(AppointmentService))]
AppointmentsPageDep = Annotated[AppointmentService, Depends(for_pages(AppointmentService))]
InboxDep = Annotated[InboxService, Depends(get_inbox)]
InboxPageDep = Annotated[InboxService, Depends(get_inbox_page)]
CarnetDep = Annotated[CarnetService, Depends(for_api(CarnetService))]
ManagementDep = Annotated[ManagementService, Depends(for_api(ManagementService))]
ManagementPageDep = Annotated[ManagementService, Depends(for_pages(ManagementService))]
StoryDep = Annotated[JourneyStoryService, Depends(for_api(JourneyStoryService))]
StoryPageDep = Annotated[JourneyStoryService, Depends(for_pages(JourneyStoryService))]
OrientationsDep = Annotated[ServiceOrientationService, Depends(for_api(ServiceOrientationService))]
TrainingRequestsDep = Annotated[TrainingRequestService, Depends(for_api(TrainingRequestService))]
FunderConsoleDep = Annotated[FunderConsoleService, Depends(for_api(FunderConsoleService))]
FunderConsolePageDep = Annotated[FunderConsoleService, Depends(for_pages(FunderConsoleService))]
LookupsDep = Annotated[LookupService, Depends(for_api(LookupService))]
ErasuresPageDep = Annotated[ErasureService, Depends(for_pages(ErasureService))]
SanctionsDep = Annotated[SanctionService, Depends(for_api(SanctionService))]
SanctionsPageDep = Annotated[SanctionService, Depends(for_pages(SanctionService))]


async def get_indicators(
    session: SessionDep, settings: SettingsDep, principal: ApiPrincipal
) -> IndicatorService:
    return IndicatorService(session, settings, principal)


async def get_indicators_page(
    session: SessionDep, settings: SettingsDep, principal: PagePrincipal
) -> IndicatorService:
    return IndicatorService(session, settings, principal)


IndicatorsDep = Annotated[IndicatorService, Depends(get_indicators)]
IndicatorsPageDep = Annotated[IndicatorService, Depends(get_indicators_page)]


async def get_resources(session: SessionDep, principal: ApiPrincipal) -> ResourceBaseService:
    return ResourceBaseService(session, principal)


ResourcesDep = Annotated[ResourceBaseService, Depends(get_resources)]


# The platform's own services: not acting for anyone (partners sign their callbacks).
async def get_caf_imports(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> CafImportService:
    return CafImportService(session, temporal, settings)


async def get_callbacks(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> PartnerCallbackService:
    return PartnerCallbackService(session, temporal, settings)


async def caf_importer(principal: ApiPrincipal) -> Principal:
    return ensure_caf_importer(principal)


CafImportsDep = Annotated[CafImportService, Depends(get_caf_imports)]
CallbacksDep = Annotated[PartnerCallbackService, Depends(get_callbacks)]
Importer = Annotated[Principal, Depends(caf_importer)]


async def get_admin(
    session: SessionDep, settings: SettingsDep, principal: ApiPrincipal
) -> AdminService:
    return AdminService(session, settings, principal)


async def get_admin_page(
    session: SessionDep, settings: SettingsDep, principal: PagePrincipal
) -> AdminService:
    return AdminService(session, settings, principal)


AdminDep = Annotated[AdminService, Depends(get_admin)]
AdminPageDep = Annotated[AdminService, Depends(get_admin_page)]


async def get_access_log(session: SessionDep, principal: ApiPrincipal) -> AccessLogService:
    return AccessLogService(session, principal)


async def get_access_log_page(session: SessionDep, principal: PagePrincipal) -> AccessLogService:
    return AccessLogService(session, principal)


AccessLogDep = Annotated[AccessLogService, Depends(get_access_log)]
AccessLogPageDep = Annotated[AccessLogService, Depends(get_access_log_page)]


async def partner_caller(request: Request, accounts: AccountsDep) -> str:
    """The partner whose API token came with the request (its callbacks' routes)."""
    authorization = request.headers.get("authorization", "")
    partner = None
    if authorization.lower().startswith("bearer "):
        partner = await accounts.token_partner(authorization[7:].strip())
    if partner is None:
        raise Unauthenticated("Jeton d'API de partenaire absent, révoqué ou expiré.")
    return partner


PartnerCallerDep = Annotated[str, Depends(partner_caller)]
