"""Where a person's consent is recorded, and the way there from a refusal.

A partner call refused for a missing consent (``ConsentMissing``: an orientation to a service,
a training request, a look-up at France Travail) says whose consent and which partner's; every
door that shows the refusal links to the carnet's consent form with that partner chosen, and
with the way back to what was refused (``retour``). The JSON API gives the same link, and the
API call that records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from parcours.carnet.schemas import ConsentMethod, Partner
from parcours.partners.service import PARTNER_NAMES, ConsentMissing

CONSENT_PAGE = "consentements"
CONSENT_PAGE_LABEL = "Consentements au partage"
# The form's anchor on its page.
CONSENT_FORM = "consentement-form"

# The form's choices, as the référent reads them.
PARTNER_CHOICES = [
    (Partner.CAF.value, "CAF"),
    (Partner.FRANCE_TRAVAIL.value, "France Travail"),
    (Partner.STRUCTURES.value, "Structures (orientations vers un service)"),
    (Partner.REGION.value, "Région (financement des formations)"),
]
DECISION_CHOICES = [("true", "Donne son accord"), ("false", "Retire son accord")]
METHOD_CHOICES = [
    (ConsentMethod.IN_PERSON.value, "En entretien"),
    (ConsentMethod.PAPER.value, "Sur papier : formulaire signé"),
]


def safe_back(url: str | None) -> str | None:
    """A way back within Parcours (a path of this site), or none."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    return url[:500]


def consent_form_url(
    beneficiary_id: str, partner: str | None = None, back: str | None = None
) -> str:
    """The carnet's consent form, ``partner`` chosen, coming back to ``back`` once recorded."""
    query = {
        "partenaire": partner if partner in {p.value for p in Partner} else None,
        "retour": safe_back(back),
    }
    given = urlencode({k: v for k, v in query.items() if v})
    page = f"/beneficiaires/{beneficiary_id}/{CONSENT_PAGE}"
    return f"{page}?{given}#{CONSENT_FORM}" if given else f"{page}#{CONSENT_FORM}"


def consent_form_context(request: Request, form: dict[str, Any] | None) -> dict[str, Any]:
    """What the consent page's form needs: its choices, the partner chosen by the link that
    led here, and the way back (from the link, or kept by the form that came back)."""
    chosen = request.query_params.get("partenaire")
    back = request.query_params.get("retour") or (form or {}).get("_retour")
    return {
        "page_label": CONSENT_PAGE_LABEL,
        "partner_choices": PARTNER_CHOICES,
        "decision_choices": DECISION_CHOICES,
        "method_choices": METHOD_CHOICES,
        "chosen_partner": chosen if chosen in {p.value for p in Partner} else None,
        "back": safe_back(back if isinstance(back, str) else None),
    }


def consent_api_url(beneficiary_id: str) -> str:
    return f"/api/v1/beneficiaries/{beneficiary_id}/consents"


@dataclass(frozen=True)
class Remedy:
    """What to do about a refusal: a link, its words, and for the API the call to make."""

    href: str
    label: str
    partner: str
    api: str


def record_consent_remedy(beneficiary_id: str, partner: str, back: str | None = None) -> Remedy:
    return Remedy(
        href=consent_form_url(beneficiary_id, partner, back),
        label=f"Enregistrer son accord de partage avec {PARTNER_NAMES.get(partner, partner)}",
        partner=partner,
        api=consent_api_url(beneficiary_id),
    )


def remedy_of(error: Exception, back: str | None = None) -> Remedy | None:
    """The way out of a refusal, when there is one: a missing consent is recorded."""
    if isinstance(error, ConsentMissing) and error.beneficiary_id and error.partner:
        return record_consent_remedy(error.beneficiary_id, error.partner, back)
    return None
