"""French pages of appointments: the person's booking page (``/rdv/{token}``: no account, mobile
first, works without JavaScript; its forms carry their own token, as signing in does), the
agents' agenda (day or week) where attendance is recorded, their structure's places, slots and
settings, and inviting or convoking from the carnet's « Rendez-vous » tab. The same services as
the JSON API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.auth import CSRF_FIELD, SIGN_IN_CSRF_COOKIE, set_sign_in_csrf, sign_in_csrf
from api.deps import AppointmentsPageDep, BookingDep, CarnetPagesDep, SettingsDep
from api.forms import (
    FieldProblem,
    after_action,
    clean_form,
    content_disposition,
    form_errors,
    form_values,
    local_time,
)
from api.templating import templates
from parcours.appointments.rules import PARIS
from parcours.appointments.schemas import (
    KIND_LABELS,
    WEEKDAYS,
    AttendanceUpdate,
    BookingChoice,
    ConvocationCreate,
    InvitationCreate,
    OccurrenceRead,
    PlaceCreate,
    SettingsUpdate,
    SlotCreate,
)
from parcours.appointments.service import SlotTaken
from parcours.core.db import utcnow
from parcours.core.errors import ParcoursError
from parcours.core.security import same

router = APIRouter(include_in_schema=False)

BOOKED = {
    "pris": "Votre rendez-vous est confirmé : vous allez le recevoir par courriel.",
    "deplace": "Votre rendez-vous est déplacé : la confirmation part par courriel.",
    "annule": "Votre rendez-vous est annulé.",
}
DONE = {
    "lieu": "Le lieu est enregistré.",
    "creneau": "Le créneau est enregistré.",
    "retrait": "Le créneau est retiré : il n'est plus proposé.",
    "reglages": "Les réglages sont enregistrés.",
    "presence": "La présence est enregistrée.",
}
EXPIRED_FORM = "Le formulaire a expiré : recommencez."


def _choice(value: str) -> BookingChoice:
    """A radio's value: ``<slot id>|<start, ISO>``."""
    slot_id, _, starts_at = value.partition("|")
    try:
        return BookingChoice(slot_id=slot_id, starts_at=datetime.fromisoformat(starts_at))
    except (ValueError, ValidationError) as error:
        raise FieldProblem("creneau", "Choisissez un créneau dans la liste.") from error


def offer_value(offer: OccurrenceRead) -> str:
    return f"{offer.slot_id}|{offer.starts_at.isoformat()}"


# --- The person's booking page ---


async def _booking(
    request: Request,
    token: str,
    service: BookingDep,
    settings: SettingsDep,
    *,
    errors: list[str] | None = None,
    offers: list[OccurrenceRead] | None = None,
    status_code: int = 200,
) -> Response:
    page = await service.page(token)
    csrf = sign_in_csrf(request)
    response = templates.TemplateResponse(
        request,
        "appointments/booking.html",
        {
            "p": page,
            "a": page.appointment,
            "token": token,
            "csrf": csrf,
            "errors": errors or [],
            "offers": offers if offers is not None else page.offers,
            "offer_value": offer_value,
            "done": BOOKED.get(request.query_params.get("fait", "")),
            "local": local_time,
        },
        status_code=410 if page.expired and status_code == 200 else status_code,
    )
    set_sign_in_csrf(response, csrf, settings)
    return response


@router.get("/rdv/{token}", response_class=HTMLResponse)
async def booking_page(
    request: Request, token: str, service: BookingDep, settings: SettingsDep
) -> Response:
    return await _booking(request, token, service, settings)


@router.get("/rdv/{token}/rendez-vous.ics")
async def booking_calendar(token: str, service: BookingDep) -> Response:
    """The appointment for the person's calendar (its cancellation once cancelled)."""
    return Response(
        await service.calendar(token),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": content_disposition("rendez-vous.ics")},
    )


async def _act_on_link(
    request: Request, token: str, service: BookingDep, settings: SettingsDep, what: str
) -> Response:
    form = await request.form()
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGN_IN_CSRF_COOKIE)):
        return await _booking(
            request, token, service, settings, errors=[EXPIRED_FORM], status_code=403
        )
    try:
        if what == "annule":
            await service.cancel(token)
        else:
            choice = _choice(str(form.get("creneau", "")))
            if what == "pris":
                await service.book(token, choice)
            else:
                await service.move(token, choice)
    except FieldProblem:
        await service.session.rollback()
        return await _booking(
            request,
            token,
            service,
            settings,
            errors=["Choisissez un créneau dans la liste."],
            status_code=422,
        )
    except SlotTaken as taken:
        await service.session.rollback()
        return await _booking(
            request,
            token,
            service,
            settings,
            errors=[taken.message],
            offers=taken.offers,
            status_code=409,
        )
    except ParcoursError as error:
        await service.session.rollback()
        return await _booking(
            request, token, service, settings, errors=[error.message], status_code=error.status_code
        )
    return after_action(f"/rdv/{token}?fait={what}")


@router.post("/rdv/{token}", response_class=HTMLResponse)
async def book(
    request: Request, token: str, service: BookingDep, settings: SettingsDep
) -> Response:
    return await _act_on_link(request, token, service, settings, "pris")


@router.post("/rdv/{token}/deplacer", response_class=HTMLResponse)
async def move(
    request: Request, token: str, service: BookingDep, settings: SettingsDep
) -> Response:
    return await _act_on_link(request, token, service, settings, "deplace")


@router.post("/rdv/{token}/annuler", response_class=HTMLResponse)
async def cancel(
    request: Request, token: str, service: BookingDep, settings: SettingsDep
) -> Response:
    return await _act_on_link(request, token, service, settings, "annule")


# --- The agents' agenda ---


@router.get("/rendez-vous/agenda", response_class=HTMLResponse)
async def agenda_page(
    request: Request,
    service: AppointmentsPageDep,
    jour: Annotated[date | None, Query()] = None,
    vue: Annotated[str, Query(pattern="^(jour|semaine)$")] = "semaine",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().astimezone(PARIS).date()
    start = jour or today
    if vue == "semaine":
        start -= timedelta(days=start.weekday())
    days = 7 if vue == "semaine" else 1
    agenda = await service.agenda(start, days)
    step = timedelta(days=days)
    return templates.TemplateResponse(
        request,
        "appointments/agenda.html",
        {
            "agenda": agenda,
            "vue": vue,
            "start": start,
            "end": start + step - timedelta(days=1),
            "previous": start - step,
            "next": start + step,
            "now": utcnow(),
            "local": local_time,
            "weekdays": WEEKDAYS,
            "done": DONE.get(request.query_params.get("fait", "")),
            "errors": errors or [],
        },
        status_code=status_code,
    )


@router.post("/rendez-vous/{appointment_id}/presence", response_class=HTMLResponse)
async def record_attendance(
    request: Request, appointment_id: str, service: AppointmentsPageDep
) -> Response:
    # Someone else's appointment is not found, whatever the form holds.
    await service.ensure_managed(appointment_id)
    form = await form_values(request)
    back = str(form.get("_retour", ""))
    try:
        await service.record_attendance(
            appointment_id, AttendanceUpdate.model_validate(clean_form(form))
        )
    except ValidationError as error:
        return await agenda_page(request, service, errors=form_errors(error), status_code=422)
    except ParcoursError as error:
        await service.session.rollback()
        return await agenda_page(
            request, service, errors=[error.message], status_code=error.status_code
        )
    target = back if back.startswith("/rendez-vous/agenda") else "/rendez-vous/agenda"
    joiner = "&" if "?" in target else "?"
    return after_action(f"{target}{joiner}fait=presence")


# --- Places, slots, settings ---


@router.get("/rendez-vous/lieux-et-creneaux", response_class=HTMLResponse)
async def places_page(
    request: Request,
    service: AppointmentsPageDep,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "appointments/places.html",
        {
            "places": await service.places(),
            "slots": await service.slots(),
            "settings": await service.settings_read(),
            "kinds": KIND_LABELS,
            "weekdays": WEEKDAYS,
            "done": DONE.get(request.query_params.get("fait", "")),
            "errors": errors or [],
            "form": form or {},
        },
        status_code=status_code,
    )


async def _manage(request: Request, service: AppointmentsPageDep, what: str, call: Any) -> Response:
    form = await form_values(request)
    try:
        await call(clean_form(form))
    except ValidationError as error:
        return await places_page(
            request, service, errors=form_errors(error), form=form, status_code=422
        )
    except ParcoursError as error:
        await service.session.rollback()
        return await places_page(
            request, service, errors=[error.message], form=form, status_code=error.status_code
        )
    return after_action(f"/rendez-vous/lieux-et-creneaux?fait={what}")


@router.post("/rendez-vous/lieux", response_class=HTMLResponse)
async def add_place(request: Request, service: AppointmentsPageDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.add_place(PlaceCreate.model_validate(values))

    return await _manage(request, service, "lieu", call)


@router.post("/rendez-vous/creneaux", response_class=HTMLResponse)
async def add_slot(request: Request, service: AppointmentsPageDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.add_slot(SlotCreate.model_validate(values))

    return await _manage(request, service, "creneau", call)


@router.post("/rendez-vous/creneaux/{slot_id}/retrait", response_class=HTMLResponse)
async def remove_slot(request: Request, slot_id: str, service: AppointmentsPageDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.remove_slot(slot_id)

    return await _manage(request, service, "retrait", call)


@router.post("/rendez-vous/reglages", response_class=HTMLResponse)
async def update_settings(request: Request, service: AppointmentsPageDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.update_settings(SettingsUpdate.model_validate(values))

    return await _manage(request, service, "reglages", call)


# --- From the carnet's « Rendez-vous » tab ---


@router.post("/beneficiaires/{beneficiary_id}/invitations")
async def invite(
    beneficiary_id: str, pages: CarnetPagesDep, service: AppointmentsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.invite(
            InvitationCreate.model_validate({**values, "beneficiary_id": beneficiary_id})
        )

    return await pages.submit(beneficiary_id, "rendez-vous", "invitation", call)


@router.post("/beneficiaires/{beneficiary_id}/convocations")
async def convoke(
    beneficiary_id: str, pages: CarnetPagesDep, service: AppointmentsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        choice = _choice(str(values.pop("creneau", "")))
        await service.convoke(
            ConvocationCreate.model_validate(
                {
                    "beneficiary_id": beneficiary_id,
                    "slot_id": choice.slot_id,
                    "starts_at": choice.starts_at,
                    "with_letter": values.get("with_letter") == "oui",
                }
            )
        )

    return await pages.submit(beneficiary_id, "rendez-vous", "convocation", call)
