"""What every page form shares: reading a posted form (empty fields are \"not given\", some
fields come several times), French messages for invalid fields, the way back to the page after
a success (scrolled to its result), French time, safe download names, and the choices the
journey's forms offer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.auth import CSRF_FIELD
from parcours.journey.schemas import CONTRACT_LABELS, EXIT_LABELS, ORIENTATION_LABELS, STEP_LABELS
from parcours.journey.service import JourneyService

FIELD_LABELS = {
    "first_name": "Prénom",
    "last_name": "Nom",
    "birth_date": "Date de naissance",
    "nir": "Numéro de sécurité sociale",
    "email": "Adresse électronique",
    "phone": "Téléphone",
    "postal_code": "Code postal",
    "territory": "Département",
    "rsa_opened_on": "Date d'ouverture du RSA",
    "referent_id": "Référent",
    "structure_id": "Structure",
    "kind": "Orientation",
    "signed_on": "Date de signature",
    "ends_on": "Date de fin",
    "weekly_hours": "Heures d'activité par semaine",
    "started_on": "Date de début",
    "contract": "Type de contrat",
    "exit_reason": "Motif de clôture",
    "exit_code": "Motif de sortie",
    "until": "Jusqu'au",
    "month": "Mois",
    "still_employed": "Toujours en emploi",
    "consent": "Suivi accepté",
    "follow_up_consent": "Suivi dans l'emploi",
}


def form_errors(error: ValidationError) -> list[str]:
    return [f"{FIELD_LABELS.get(field, field)} : {message}" for field, message in problems(error)]


def problems(error: ValidationError) -> list[tuple[str, str]]:
    """Each invalid field (the form's name for it) with what is wrong, in French."""
    found = []
    for item in error.errors():
        # A list's item is located by its index: the field is the name before it.
        names = [str(part) for part in item["loc"] if not isinstance(part, int)]
        found.append((names[-1] if names else "", french_problem(item)))
    return found


def french_problem(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "ce champ est obligatoire."
    if kind.startswith(("date", "datetime")):
        return "date invalide (format attendu : JJ/MM/AAAA)."
    if kind == "string_pattern_mismatch":
        return "format invalide."
    if kind in ("int_parsing", "int_type"):
        return "nombre entier attendu."
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ") + "."
    ctx = item.get("ctx") or {}
    if kind == "string_too_short":
        return "ce champ est obligatoire."
    if kind == "string_too_long":
        return f"{ctx['max_length']} caractères au plus."
    if kind == "less_than_equal":
        return f"{ctx['le']} au plus."
    if kind == "greater_than_equal":
        return f"{ctx['ge']} au moins."
    if kind in ("enum", "literal_error"):
        return "choix non reconnu."
    if kind in ("bool_parsing", "bool_type"):
        return "répondez par oui ou par non."
    if kind == "extra_forbidden":
        return "champ inattendu."
    return str(item["msg"])


def clean_form(form: dict[str, Any]) -> dict[str, Any]:
    """Empty form fields mean 'not given'."""
    return {
        k: v
        for k, v in form.items()
        if v not in ("", None) and not k.startswith("_") and k != CSRF_FIELD
    }


PARIS = ZoneInfo("Europe/Paris")


def local_time(value: datetime | None) -> datetime | None:
    """Times are stored in UTC; people read them in French time."""
    return value.astimezone(PARIS) if value else None


class FieldProblem(Exception):
    """A form field the page itself finds wrong (a missing file), shown like a validation error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


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


# The id of an action's result on its page (``result`` in templates/_macros.html).
RESULT_ID = "resultat"


def after_action(url: str) -> RedirectResponse:
    """Back to a page after a successful action, scrolled to its result (which parcours.js
    and the alert's ``autofocus`` give the focus to)."""
    return RedirectResponse(f"{url}#{RESULT_ID}", status_code=303)


def content_disposition(filename: str) -> str:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


MULTI_VALUED = frozenset({"obstacles"})


async def journey_choices(journeys: JourneyService) -> dict[str, Any]:
    """What the journey's forms offer to choose from: référents, structures, and the
    journey's vocabularies."""
    return {
        "referents": await journeys.referent_choices(),
        "structures": await journeys.structure_choices(),
        "orientations": ORIENTATION_LABELS,
        "contracts": CONTRACT_LABELS,
        "exits": EXIT_LABELS,
        "steps": STEP_LABELS,
    }
