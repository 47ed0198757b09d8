"""A person's carnet de bord, tab by tab, with their journey's next actions (pages).

``/beneficiaires/{id}/{onglet}`` shows one tab; its forms post to the carnet service, the same
calls as the JSON API. ``/parcours/{id}`` is the journey's own tab: its history and every
action form. An invalid or refused form re-renders the tab it came from with the reason, and
keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from api.auth import PagePrincipal
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages import FIELD_LABELS, clean_form, journey_choices, problems
from api.templating import templates
from parcours.access.models import User
from parcours.access.repository import AccountRepository, log_access
from parcours.access.rules import Principal, Role, allowed_actions, ensure_write
from parcours.access.service import AccountService
from parcours.carnet.schemas import (
    APPOINTMENT_STATUS_LABELS,
    CONTRACT_KIND_LABELS,
    PLAN_STATUS_LABELS,
    THEME_LABELS,
    AppointmentCreate,
    AppointmentUpdate,
    ContactUpdate,
    ContractCreate,
    DiagnosisCreate,
    FactCreate,
    NoteCreate,
    PlanActionCreate,
    PlanActionUpdate,
    ProjectUpdate,
)
from parcours.carnet.service import CarnetService
from parcours.core.errors import Forbidden, InvalidReference, NotFound, ParcoursError
from parcours.core.schemas import PersonRef
from parcours.core.settings import Settings
from parcours.journey.rules import ACTIONS
from parcours.journey.schemas import ActionRead, BeneficiaryRead, JourneyRead
from parcours.journey.service import JourneyService
from parcours.orientations.service import ServiceOrientationService
from parcours.partners.lookups import lookup_panel
from parcours.training_requests.service import TrainingRequestService

router = APIRouter(include_in_schema=False)

# The carnet's tabs, in order (``/beneficiaires/{id}/{tab}``), then the journey's own tab.
TABS = {
    "situation": "Situation",
    "diagnostic": "Diagnostic",
    "contrat": "Contrat et plan d'action",
    "notes": "Notes",
    "rendez-vous": "Rendez-vous",
    "documents": "Documents",
    "historique": "Historique",
}
JOURNEY_TAB = "parcours"
JOURNEY_TAB_LABEL = "Étapes du parcours"

# Journey actions whose real work is a carnet form: the header leads there.
ACTION_TABS = {"complete_diagnosis": "diagnostic", "sign_contract": "contrat"}
# Journey actions that need nothing typed: the header posts them directly.
ONE_CLICK_ACTIONS = frozenset({"begin_diagnosis", "report_job_loss", "resume"})
SECONDARY_ACTIONS = frozenset({"close", "pause", "hand_off", "report_job_loss"})

# What each form's fields are called on the page (for error messages).
FORM_LABELS: dict[str, dict[str, str]] = {
    "fait": {"theme": "Thème", "label": "Intitulé", "value": "Information"},
    "coordonnees": {
        "email": "Adresse électronique",
        "phone": "Téléphone",
        "address": "Adresse",
        "postal_code": "Code postal",
        "city": "Commune",
    },
    "diagnostic": {
        "summary": "Synthèse du diagnostic",
        "strengths": "Points d'appui",
        "obstacles": "Freins identifiés",
    },
    "projet": {"rome_code": "Code ROME", "label": "Métier visé"},
    "contrat": {
        "kind": "Type de contrat",
        "signed_on": "Date de signature",
        "ends_on": "Date de fin",
        "weekly_hours": "Heures d'activité par semaine",
    },
    "action": {
        "theme": "Thème",
        "objective": "Objectif",
        "action": "Action",
        "weekly_hours": "Heures par semaine",
    },
    "statut": {"status": "Statut"},
    "note": {"body": "Note"},
    "rendez-vous": {"starts_at": "Date et heure", "place": "Lieu", "purpose": "Objet"},
    "rendez-vous-statut": {"status": "Statut"},
    "document": {"file": "Fichier"},
}
MULTI_VALUED = frozenset({"obstacles"})

DONE_MESSAGES = {
    "fait": "L'élément de situation est enregistré.",
    "coordonnees": "Les coordonnées sont corrigées.",
    "diagnostic": "Le diagnostic est enregistré.",
    "projet": "Le projet professionnel est enregistré.",
    "contrat": "Le contrat d'engagement est enregistré.",
    "action": "L'action est ajoutée au plan.",
    "statut": "L'action du plan est mise à jour.",
    "note": "La note est ajoutée.",
    "rendez-vous": "Le rendez-vous est ajouté.",
    "rendez-vous-statut": "Le rendez-vous est mis à jour.",
    "document": "Le document est déposé.",
    "orientation": "L'orientation est ajoutée au plan et envoyée à la structure.",
    "inscription": "Enregistré.",
    **{name: "Enregistré." for name in ACTIONS},
}

PARIS = ZoneInfo("Europe/Paris")


def local_time(value: datetime | None) -> datetime | None:
    """Times are stored in UTC; people read them in French time."""
    return value.astimezone(PARIS) if value else None


def tab_url(beneficiary_id: str, tab: str) -> str:
    if tab == JOURNEY_TAB:
        return f"/parcours/{beneficiary_id}"
    return f"/beneficiaires/{beneficiary_id}/{tab}"


class FieldProblem(Exception):
    """A form field the page itself finds wrong (a missing file), shown like a validation error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Header:
    """What the carnet's header shows, whichever tab is open."""

    beneficiary: BeneficiaryRead
    journey: JourneyRead
    referent: PersonRef | None
    structure: PersonRef | None
    actions: list[ActionRead]


async def form_values(request: Request) -> dict[str, Any]:
    """The posted form as typed (text fields only; several values for multi-valued fields)."""
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        texts = [v for v in form.getlist(key) if isinstance(v, str)]
        if key in MULTI_VALUED:
            values[key] = texts
        elif texts:
            values[key] = texts[-1]
    return values


def content_disposition(filename: str) -> str:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


class CarnetPages:
    """One request on a carnet page: render a tab, or run a form and come back to its tab."""

    def __init__(
        self,
        request: Request,
        session: AsyncSession,
        settings: Settings,
        carnet: CarnetService,
        principal: Principal,
    ) -> None:
        self.request = request
        self.session = session
        self.settings = settings
        self.carnet = carnet
        self.journeys: JourneyService = carnet.journeys
        self.principal = principal

    async def render(
        self,
        beneficiary_id: str,
        tab: str,
        *,
        failed: str | None = None,
        form: dict[str, Any] | None = None,
        errors: list[tuple[str | None, str]] | None = None,
        field_errors: dict[str, str] | None = None,
        status_code: int = 200,
        extra: dict[str, Any] | None = None,
    ) -> Response:
        context: dict[str, Any] = {
            "tab": tab,
            "tabs": TABS,
            "journey_tab": JOURNEY_TAB,
            "journey_tab_label": JOURNEY_TAB_LABEL,
            "tab_url": tab_url,
            "action_tabs": ACTION_TABS,
            "one_click": ONE_CLICK_ACTIONS,
            "secondary": SECONDARY_ACTIONS,
            "done": DONE_MESSAGES.get(self.request.query_params.get("fait", "")),
            "failed": failed,
            "form": form or {},
            "errors": errors or [],
            "field_errors": field_errors or {},
            "local": local_time,
            "themes": THEME_LABELS,
            "plan_statuses": PLAN_STATUS_LABELS,
            "appointment_statuses": APPOINTMENT_STATUS_LABELS,
            "contract_kinds": CONTRACT_KIND_LABELS,
            "role": self.principal.role.value,
            **(extra or {}),
        }
        if tab == JOURNEY_TAB:
            detail = await self.journeys.detail(beneficiary_id, self.principal)
            header = Header(
                detail.beneficiary,
                detail.journey,
                detail.referent,
                detail.structure,
                detail.journey.available_actions,
            )
            context |= {
                "d": detail,
                "temporal_ui": self.settings.temporal_ui_url,
                **await journey_choices(self.session),
            }
            template = "journey.html"
        else:
            carnet = await self.carnet.read(beneficiary_id, f"carnet.{tab}")
            allowed = allowed_actions(
                self.principal, [a.name for a in carnet.journey.available_actions]
            )
            header = Header(
                carnet.beneficiary,
                carnet.journey,
                carnet.referent,
                carnet.structure,
                [a for a in carnet.journey.available_actions if a.name in allowed],
            )
            context["c"] = carnet
            if tab == "situation":
                context["account"] = await AccountRepository(self.session).user_of_beneficiary(
                    beneficiary_id
                )
                if carnet.can_write:
                    context["lookups"] = await lookup_panel(self.session, beneficiary_id)
            if tab == "contrat":
                # Orientations to services and the 15-hours rule, alongside the plan; the
                # person's training requests and their status (``carnet_formations.html``).
                context["plan_extra"] = await ServiceOrientationService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).plan(beneficiary_id, logged=False)
                context["training_requests"] = await TrainingRequestService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).for_person(beneficiary_id, log=False)
            template = f"carnet_{tab.replace('-', '_')}.html"
        context |= {
            "h": header,
            "b": header.beneficiary,
            "j": header.journey,
            "offered": {a.name for a in header.actions},
        }
        return templates.TemplateResponse(self.request, template, context, status_code=status_code)

    async def submit(
        self,
        beneficiary_id: str,
        tab: str,
        name: str,
        call: Callable[[dict[str, Any]], Awaitable[object]],
        *,
        failed: str | None = None,
    ) -> Response:
        """Validate and run one form; back to its tab, with a message either way."""
        form = await form_values(self.request)
        failed = failed or name
        labels = FORM_LABELS.get(name, {})
        try:
            await call(clean_form(form))
        except ValidationError as error:
            found = problems(error)
            return await self._failed(
                beneficiary_id, tab, failed, form, [(f, m) for f, m in found], labels, 422
            )
        except FieldProblem as problem:
            return await self._failed(
                beneficiary_id, tab, failed, form, [(problem.field, problem.message)], labels, 422
            )
        except ParcoursError as error:
            # Nothing of a refused change may be committed with the page's read log.
            await self.session.rollback()
            return await self._failed(
                beneficiary_id,
                tab,
                failed,
                form,
                [(None, error.message)],
                labels,
                error.status_code,
            )
        return RedirectResponse(f"{tab_url(beneficiary_id, tab)}?fait={name}", status_code=303)

    async def _failed(
        self,
        beneficiary_id: str,
        tab: str,
        failed: str,
        form: dict[str, Any],
        found: list[tuple[str | None, str]],
        labels: dict[str, str],
        status_code: int,
    ) -> Response:
        errors: list[tuple[str | None, str]] = []
        field_errors: dict[str, str] = {}
        for field, message in found:
            if field:
                label = labels.get(field) or FIELD_LABELS.get(field, field)
                field_errors.setdefault(field, message)
                errors.append((f"{failed}-{field}", f"{label} : {message}"))
            else:
                errors.append((None, message))
        return await self.render(
            beneficiary_id,
            tab,
            failed=failed,
            form=form,
            errors=errors,
            field_errors=field_errors,
            status_code=status_code,
        )


async def get_carnet_pages(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
) -> CarnetPages:
    carnet = CarnetService(session, temporal, settings, principal)
    return CarnetPages(request, session, settings, carnet, principal)


PagesDep = Annotated[CarnetPages, Depends(get_carnet_pages)]


# --- Reading ---


@router.get("/beneficiaires/{beneficiary_id}")
async def carnet_home(beneficiary_id: str, principal: PagePrincipal) -> Response:
    if principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    return RedirectResponse(tab_url(beneficiary_id, "situation"), status_code=303)


@router.get("/beneficiaires/{beneficiary_id}/{tab}")
async def carnet_tab(beneficiary_id: str, tab: str, pages: PagesDep) -> Response:
    if pages.principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    if tab not in TABS:
        raise NotFound("Cet onglet du carnet n'existe pas.")
    return await pages.render(beneficiary_id, tab)


@router.get("/parcours/{beneficiary_id}")
async def journey_tab(beneficiary_id: str, pages: PagesDep) -> Response:
    if pages.principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    return await pages.render(beneficiary_id, JOURNEY_TAB)


@router.get("/beneficiaires/{beneficiary_id}/documents/{document_id}")
async def download_document(beneficiary_id: str, document_id: str, pages: PagesDep) -> Response:
    document = await pages.carnet.document(beneficiary_id, document_id)
    return Response(
        document.data,
        media_type=document.content_type,
        headers={"Content-Disposition": content_disposition(document.filename)},
    )


# --- The journey's actions (the same updates as the API) ---


@router.post("/parcours/{beneficiary_id}/actions/{name}")
async def journey_action(beneficiary_id: str, name: str, pages: PagesDep) -> Response:
    """Run one journey action; ``_retour`` names the tab the form was on (default: the
    journey's tab), where the result or the refusal is shown."""
    form = await form_values(pages.request)
    back = form.get("_retour", "")
    tab = back if back in TABS else JOURNEY_TAB
    if name not in ACTIONS:
        return await pages.render(
            beneficiary_id, tab, errors=[(None, "Action inconnue.")], status_code=404
        )
    model = ACTIONS[name][0]

    async def act(values: dict[str, Any]) -> None:
        await pages.journeys.act(beneficiary_id, model.model_validate(values), pages.principal)

    return await pages.submit(beneficiary_id, tab, name, act)


# --- Situation ---


@router.post("/beneficiaires/{beneficiary_id}/situation/faits")
async def add_fact(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_fact(beneficiary_id, FactCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "situation", "fait", call)


@router.post("/beneficiaires/{beneficiary_id}/situation/coordonnees")
async def update_contact(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        # A field left blank clears it: every field of the form is given.
        given = {k: values.get(k) for k in FORM_LABELS["coordonnees"]}
        await pages.carnet.update_contact(beneficiary_id, ContactUpdate.model_validate(given))

    return await pages.submit(beneficiary_id, "situation", "coordonnees", call)


@router.post("/beneficiaires/{beneficiary_id}/situation/acces")
async def give_access(beneficiary_id: str, pages: PagesDep) -> Response:
    """Create the person's own account if missing, and a one-time link to choose a password."""
    try:
        user, token = await _invite_person(pages, beneficiary_id)
    except ParcoursError as error:
        await pages.session.rollback()
        return await pages.render(
            beneficiary_id,
            "situation",
            failed="acces",
            errors=[(None, error.message)],
            status_code=error.status_code,
        )
    link = f"{str(pages.request.base_url).rstrip('/')}/activation/{token}"
    return await pages.render(
        beneficiary_id,
        "situation",
        extra={
            "invitation": {
                "link": link,
                "email": user.email,
                "days": pages.settings.invitation_days,
            }
        },
    )


async def _invite_person(pages: CarnetPages, beneficiary_id: str) -> tuple[User, str]:
    principal = pages.principal
    ensure_write(principal, await pages.journeys.journeys.get(beneficiary_id))
    if principal.role is not Role.REFERENT:
        raise Forbidden("Seul·e le ou la référent·e crée l'accès de la personne à son espace.")
    person = await pages.journeys.people.beneficiary(beneficiary_id)
    if person is None:
        raise NotFound("Personne introuvable.")
    accounts = AccountService(pages.session, pages.settings)
    user = await accounts.accounts.user_of_beneficiary(beneficiary_id)
    if user is None:
        if not person.email:
            raise InvalidReference(
                "Renseignez d'abord l'adresse électronique de la personne (coordonnées "
                "ci-dessous) : elle s'en sert pour se connecter."
            )
        user = await accounts.create_user(
            email=person.email,
            full_name=f"{person.first_name} {person.last_name}",
            role=Role.BENEFICIARY,
            territory=person.territory,
            beneficiary_id=beneficiary_id,
        )
    token = await accounts.invite(user)
    log_access(pages.session, principal, beneficiary_id, "invite", "account.invitation")
    return user, token


# --- Diagnostic ---


@router.post("/beneficiaires/{beneficiary_id}/diagnostic")
async def record_diagnosis(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.record_diagnosis(beneficiary_id, DiagnosisCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "diagnostic", "diagnostic", call)


# --- Contrat et plan d'action ---


@router.post("/beneficiaires/{beneficiary_id}/contrat/projet")
async def set_project(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.set_project(beneficiary_id, ProjectUpdate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "projet", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat")
async def sign_contract(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.sign_contract(beneficiary_id, ContractCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "contrat", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat/actions")
async def add_plan_action(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_plan_action(beneficiary_id, PlanActionCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "action", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat/actions/{action_id}")
async def set_plan_status(beneficiary_id: str, action_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = PlanActionUpdate.model_validate(values)
        await pages.carnet.set_plan_status(beneficiary_id, action_id, data)

    return await pages.submit(
        beneficiary_id, "contrat", "statut", call, failed=f"statut-{action_id}"
    )


# --- Notes ---


@router.post("/beneficiaires/{beneficiary_id}/notes")
async def add_note(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_note(beneficiary_id, NoteCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "notes", "note", call)


# --- Rendez-vous ---


@router.post("/beneficiaires/{beneficiary_id}/rendez-vous")
async def add_appointment(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = AppointmentCreate.model_validate(values)
        if data.starts_at.tzinfo is None:  # a datetime-local field: French time
            data = data.model_copy(update={"starts_at": data.starts_at.replace(tzinfo=PARIS)})
        await pages.carnet.add_appointment(beneficiary_id, data)

    return await pages.submit(beneficiary_id, "rendez-vous", "rendez-vous", call)


@router.post("/beneficiaires/{beneficiary_id}/rendez-vous/{appointment_id}")
async def set_appointment_status(
    beneficiary_id: str, appointment_id: str, pages: PagesDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = AppointmentUpdate.model_validate(values)
        await pages.carnet.set_appointment_status(beneficiary_id, appointment_id, data)

    return await pages.submit(
        beneficiary_id,
        "rendez-vous",
        "rendez-vous-statut",
        call,
        failed=f"rendez-vous-{appointment_id}",
    )


# --- Documents ---


@router.post("/beneficiaires/{beneficiary_id}/documents")
async def add_document(beneficiary_id: str, pages: PagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        upload = (await pages.request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FieldProblem("file", "choisissez un fichier à déposer.")
        # Read one byte past the limit: enough to refuse without holding a huge upload.
        data = await upload.read(pages.settings.max_document_bytes + 1)
        await pages.carnet.add_document(
            beneficiary_id, upload.filename, upload.content_type or "", data
        )

    return await pages.submit(beneficiary_id, "documents", "document", call)
