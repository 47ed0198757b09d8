"""The Jinja2 environment shared by every page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from parcours.core.errors import ParcoursError
from parcours.core.schemas import born_on, person_name
from parcours.core.settings import ROOT
from parcours.sms.rules import phone_shown

templates = Jinja2Templates(directory=ROOT / "templates")


def _options(items: Any, key: str, label: str) -> list[tuple[Any, Any]]:
    return [(getattr(i, key), getattr(i, label)) for i in items]


def _principal(request: Any) -> Any:
    return getattr(request.state, "principal", None)


def _csrf(request: Any) -> str:
    return getattr(request.state, "csrf", None) or ""


def _new_action_id() -> str:
    return uuid.uuid4().hex


templates.env.globals.update(
    options=_options,
    principal_of=_principal,
    csrf_of=_csrf,
    new_action_id=_new_action_id,
    # A person's name and what tells namesakes apart, written as everywhere else.
    person_name=person_name,
    born_on=born_on,
    # Phones are kept E.164 (+33612345678); people read 06 12 34 56 78.
    phone_shown=phone_shown,
)


# What an error page is titled, and what it suggests, by status (the others: ``ERROR_PAGE``).
ERROR_PAGES = {
    403: (
        "Accès refusé",
        "Votre compte ne permet pas d'ouvrir cette page ou de faire cette action. Si vous "
        "pensez qu'il le devrait, demandez-le à l'administrateur de votre département.",
    ),
    404: (
        "Page non trouvée",
        "Si vous avez tapé l'adresse dans le navigateur, vérifiez qu'elle est correcte. La page "
        "n'existe peut-être plus, ou ce qu'elle montrait a été retiré.",
    ),
    500: (
        "Erreur inattendue",
        "Rien de ce que vous faisiez n'a été enregistré. Réessayez dans un instant ; si le "
        "problème persiste, signalez-le à l'administrateur de votre département.",
    ),
    503: (
        "Service momentanément indisponible",
        "Rien n'a été enregistré. Réessayez dans un instant.",
    ),
}
ERROR_PAGE = (
    "L'action n'a pas pu aboutir",
    "Revenez à la page précédente pour corriger ou réessayer.",
)
ERROR_MESSAGES = {
    403: "Vous n'avez pas accès à cette page.",
    404: "La page que vous cherchez est introuvable.",
    405: "Cette adresse ne s'utilise pas ainsi.",
    500: "Une erreur inattendue s'est produite.",
}


def error_page(
    request: Request,
    status_code: int,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The French error page of a page route (the JSON API answers JSON)."""
    title, advice = ERROR_PAGES.get(status_code, ERROR_PAGE)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status_code,
            "title": title,
            "message": message or ERROR_MESSAGES.get(status_code, title + "."),
            "advice": advice,
        },
        status_code=status_code,
        headers=headers,
    )


def domain_error_page(request: Request, error: ParcoursError) -> Response:
    return error_page(request, error.status_code, error.message)
