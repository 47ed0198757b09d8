"""A person's carnet de bord, tab by tab, with their journey's next actions (pages).

``/beneficiaires/{id}/{onglet}`` shows one tab; its forms post to the carnet service, the same
calls as the JSON API. ``/parcours/{id}`` is the journey's own tab: its history and every
action form. An invalid or refused form re-renders the tab it came from with the reason, and
keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.forms import (
    FIELD_LABELS,
    FieldProblem,
    after_action,
    clean_form,
    form_values,
    journey_choices,
    local_time,
    problems,
)
from api.pages.carnet.consent_links import (
    CONSENT_PAGE,
    consent_form_context,
    consent_form_url,
    remedy_of,
)
from api.templating import templates
from parcours.access.rules import Principal, allowed_actions
from parcours.appointments.service import AppointmentService
from parcours.carnet.schemas import (
    APPOINTMENT_STATUS_LABELS,
    CONTRACT_KIND_LABELS,
    PLAN_STATUS_LABELS,
    THEME_LABELS,
    ConsentRead,
)
from parcours.carnet.service import CarnetService
from parcours.core.errors import ParcoursError
from parcours.core.schemas import PersonRef
from parcours.core.settings import Settings
from parcours.exits.service import ExitCodeService
from parcours.journey.rules import ACTIONS
from parcours.journey.schemas import (
    ASK_ORIENTATION_DECISION,
    ActionRead,
    BeneficiaryRead,
    HandoverRead,
    JourneyRead,
    NextSteps,
)
from parcours.journey.service import JourneyService
from parcours.orientations.service import ServiceOrientationService
from parcours.partners.lookups import lookup_panel
from parcours.reorientation.schemas import ASKABLE_REASONS, EXTENSION_LABELS, REFUSAL_LABELS
from parcours.reorientation.service import ReorientationService
from parcours.sanctions.rules import MEASURE_LABELS, STATUS_LABELS
from parcours.sanctions.service import SanctionService
from parcours.territories.service import TerritoryService
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
ONE_CLICK_ACTIONS = frozenset(
    {"begin_diagnosis", "report_job_loss", "resume", ASK_ORIENTATION_DECISION}
)
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
    "consentement": {
        "partner": "Partenaire",
        "granted": "Décision de la personne",
        "method": "Mode de recueil",
        "file": "Formulaire signé",
    },
}

DONE_MESSAGES = {
    "reorientation": "La demande de réorientation est envoyée à l'équipe d'orientation.",
    "reorientation_decision": "La décision de réorientation est enregistrée ; les référent·es "
    "et la personne en sont informé·es.",
    "revue_sociale": "La revue du parcours social est conclue.",
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
    "invitation": "L'invitation est envoyée : la personne choisit son créneau avec le lien reçu.",
    "convocation": "La convocation est envoyée.",
    "document": "Le document est déposé.",
    "consentement": "Le consentement est enregistré : l'en-tête du carnet et son historique le "
    "montrent.",
    "orientation": "L'orientation est ajoutée au plan et envoyée à la structure.",
    "inscription": "Enregistré.",
    **{name: "Enregistré." for name in ACTIONS},
    "sanction": "La procédure est ouverte : le courrier part à la personne (carnet, courriel, "
    "SMS).",
    "sanction-reception": "La date de réception est enregistrée : le délai pour répondre court.",
    "sanction-audition": "L'audition est enregistrée.",
    "sanction-equipe": "L'avis de l'équipe pluridisciplinaire est enregistré.",
    "sanction-decision": "La décision est enregistrée et transmise à la CAF.",
    ASK_ORIENTATION_DECISION: "Demande envoyée : les chargé·es d'orientation du département la "
    "trouvent dans leur boîte « À traiter ».",
}


def tab_url(beneficiary_id: str, tab: str) -> str:
    if tab == JOURNEY_TAB:
        return f"/parcours/{beneficiary_id}"
    return f"/beneficiaires/{beneficiary_id}/{tab}"


@dataclass(frozen=True)
class Header:
    """What the carnet's header shows, whichever tab is open."""

    beneficiary: BeneficiaryRead
    journey: JourneyRead
    referent: PersonRef | None
    structure: PersonRef | None
    actions: list[ActionRead]
    # Each partner's consent to share: given, withdrawn or not asked yet, when and how; and
    # whether the reader may record one (the follow-up group's référents).
    consents: list[ConsentRead]
    consents_writable: bool
    # The reader is of the former follow-up group of a journey handed off: read only.
    handed_off: HandoverRead | None = None
    # « Et maintenant ? »: what the reader can do now, who else acts, and meanwhile.
    next: NextSteps | None = None


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
            "consent_form_url": consent_form_url,
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
            "ask_decision": ASK_ORIENTATION_DECISION,
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
                await self.carnet.consents(beneficiary_id),
                await self.carnet.can_write(beneficiary_id),
                detail.handed_off,
                detail.next_steps,
            )
            hosted = await TerritoryService(self.session).hosted()
            context |= {
                "d": detail,
                "temporal_ui": self.settings.temporal_ui_url,
                # Where a hand-off may go: the other départements this platform hosts.
                "hand_off_to": ", ".join(
                    f"{t.code} ({t.name})" for t in hosted if t.code != detail.journey.territory
                ),
                "handoff_read_days": self.settings.handoff_read_days,
                **await journey_choices(self.journeys),
                # The close form offers the département's active coded exits.
                "exit_codes": [
                    (c.code, c.label + (" (sortie positive)" if c.positive else ""))
                    for c in await ExitCodeService(self.session).codes(
                        detail.journey.territory, active_only=True
                    )
                ],
                # Reorientation requests with their reasons, and the social track's review.
                "reo": await ReorientationService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).panel(beneficiary_id),
                "reo_reasons": ASKABLE_REASONS,
                "reo_refusals": REFUSAL_LABELS,
                "review_reasons": [
                    (r, EXTENSION_LABELS.get(r, r))
                    for r in self.settings.social_review_extension_reasons
                ],
            }
            context |= {
                "sanctions": await SanctionService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).cases_or_none(beneficiary_id),
                "sanction_statuses": STATUS_LABELS,
                "sanction_measures": list(MEASURE_LABELS.items()),
            }
            template = "journey/journey.html"
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
                # After a hand-off, the former follow-up group reads only.
                []
                if carnet.handed_off
                else [a for a in carnet.journey.available_actions if a.name in allowed],
                carnet.consents,
                carnet.can_write,
                carnet.handed_off,
                await self.journeys.what_next(beneficiary_id, self.principal),
            )
            context["c"] = carnet
            if tab == "situation":
                context["account"] = await self.carnet.person_account(beneficiary_id)
                if carnet.can_write:
                    context["lookups"] = await lookup_panel(self.session, beneficiary_id)
            if tab == CONSENT_PAGE:
                context |= consent_form_context(self.request, form)
            if tab == "rendez-vous":
                # Invitations and convocations with their history, and what the agent may
                # offer (her structure's kinds and free slots).
                context["appointments"] = await AppointmentService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).tab(beneficiary_id)
            if tab == "contrat":
                # Orientations to services and the 15-hours rule, alongside the plan; the
                # person's training requests and their status (``carnet_formations.html``).
                context["plan_extra"] = await ServiceOrientationService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).plan(beneficiary_id, logged=False)
                context["training_requests"] = await TrainingRequestService(
                    self.session, self.journeys.temporal, self.settings, self.principal
                ).for_person(beneficiary_id, log=False)
            template = f"carnet/{tab.replace('-', '_')}.html"
        if header.journey.exit_code:
            # The coded exit's label, as the département's list says it.
            coded = await ExitCodeService(self.session).by_code(header.journey.territory)
            found = coded.get(header.journey.exit_code)
            context["exit_label"] = found.label if found else header.journey.exit_code
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
        then: str | None = None,
    ) -> Response:
        """Validate and run one form; back to its tab (or to ``then``), with a message either
        way. A refusal that has a remedy (a missing consent) links to it."""
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
                extra={"remedy": remedy_of(error, tab_url(beneficiary_id, tab))},
            )
        return after_action(then or f"{tab_url(beneficiary_id, tab)}?fait={name}")

    async def _failed(
        self,
        beneficiary_id: str,
        tab: str,
        failed: str,
        form: dict[str, Any],
        found: list[tuple[str | None, str]],
        labels: dict[str, str],
        status_code: int,
        extra: dict[str, Any] | None = None,
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
            extra=extra,
        )


# --- Reading ---


# --- The journey's actions (the same updates as the API) ---


# --- Situation ---


# --- Diagnostic ---


# --- Contrat et plan d'action ---


# --- Notes ---


# --- Rendez-vous ---


# --- Documents ---
