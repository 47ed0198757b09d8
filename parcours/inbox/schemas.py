"""What pages, the JSON API and the e-mails show of the inbox: items with their French
title, the person's name (pages and API only, never e-mail), where to act, and the e-mail
preference."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from parcours.inbox.rules import ItemKind

FUNDERS = {"region": "la Région", "france_travail": "France Travail"}
CONSENT_PARTNERS = {**FUNDERS, "caf": "la CAF", "structures": "les structures"}

TITLES: dict[ItemKind, str] = {
    ItemKind.TRAINING_QUESTION: "Question d'un financeur sur une demande de formation",
    ItemKind.TRAINING_DECISION: "Décision d'un financeur sur une demande de formation",
    ItemKind.STRUCTURE_ANSWER: "Réponse d'une structure à une orientation",
    ItemKind.ASSIGNED: "Parcours qui vous est confié",
    ItemKind.HANDED_OVER: "Parcours arrivé d'un autre département",
    ItemKind.DECISION_REQUESTED: "Décision d'orientation demandée",
    ItemKind.DEADLINE_SOON: "Échéance dans moins de 7 jours",
    ItemKind.DEADLINE_PASSED: "Parcours en retard",
    ItemKind.REMINDER: "Relance de votre responsable",
    ItemKind.ESCALATION: "Signalement à votre structure",
    ItemKind.LOOKUP_ANSWERED: "Réponse d'un partenaire à une recherche",
    ItemKind.CONSENT_CHANGED: "Accord de partage modifié",
    ItemKind.INVITATION_EXPIRED: "Invitation expirée : convoquez la personne",
    ItemKind.ATTENDANCE_TO_RECORD: "Présence à un rendez-vous à enregistrer",
    ItemKind.QUARTERLY_DECLARATION_MISSING: "Droit RSA clos : déclaration trimestrielle manquante",
    ItemKind.FRANCE_TRAVAIL_ORIENTS: "Délai légal d'orientation dépassé : France Travail oriente",
    ItemKind.REORIENTATION_REQUESTED: "Réorientation demandée",
    ItemKind.REORIENTATION_DECIDED: "Réorientation décidée",
    ItemKind.SOCIAL_REVIEW_DUE: "Revue du parcours social à faire",
}

# What to do, where (``{b}``: the person's id, ``{ref}``: what the item is about).
ACTIONS: dict[ItemKind, tuple[str, str]] = {
    ItemKind.TRAINING_QUESTION: (
        "Répondre au financeur",
        "/beneficiaires/{b}/contrat#demande-{ref}",
    ),
    ItemKind.TRAINING_DECISION: ("Voir la demande", "/beneficiaires/{b}/contrat#demande-{ref}"),
    ItemKind.STRUCTURE_ANSWER: ("Voir le plan d'action", "/beneficiaires/{b}/contrat"),
    ItemKind.ASSIGNED: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.HANDED_OVER: ("Décider l'orientation", "/parcours/{b}"),
    ItemKind.DECISION_REQUESTED: ("Décider l'orientation", "/parcours/{b}"),
    ItemKind.DEADLINE_SOON: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.DEADLINE_PASSED: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.REMINDER: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.ESCALATION: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.LOOKUP_ANSWERED: ("Voir la situation", "/beneficiaires/{b}/situation"),
    ItemKind.CONSENT_CHANGED: ("Voir les accords", "/beneficiaires/{b}/situation"),
    ItemKind.INVITATION_EXPIRED: ("Convoquer", "/beneficiaires/{b}/rendez-vous"),
    ItemKind.ATTENDANCE_TO_RECORD: ("Enregistrer la présence", "/rendez-vous/agenda"),
    ItemKind.QUARTERLY_DECLARATION_MISSING: ("Voir la situation", "/beneficiaires/{b}/situation"),
    ItemKind.FRANCE_TRAVAIL_ORIENTS: ("Ouvrir le parcours", "/parcours/{b}"),
    ItemKind.REORIENTATION_REQUESTED: (
        "Décider de la réorientation",
        "/parcours/{b}#reorientation",
    ),
    ItemKind.REORIENTATION_DECIDED: ("Voir la décision", "/parcours/{b}#reorientation"),
    ItemKind.SOCIAL_REVIEW_DUE: ("Conclure la revue", "/parcours/{b}#revue-sociale"),
}

DECISIONS = {"approved": "accordée", "refused": "refusée"}
ANSWERS = {
    "accepted": "acceptée par la structure",
    "refused": "refusée par la structure",
    "expired": "expirée sans réponse de la structure",
}


def item_summary(kind: ItemKind, detail: dict[str, Any]) -> str:
    """One line on what happened, without personal data (also what e-mails may say)."""
    funder = FUNDERS.get(str(detail.get("funder")), "le financeur")
    match kind:
        case ItemKind.TRAINING_QUESTION:
            return f"{funder[0].upper()}{funder[1:]} demande des informations : répondez-lui."
        case ItemKind.TRAINING_DECISION:
            decision = DECISIONS.get(str(detail.get("decision")), "décidée")
            return f"Formation {decision} par {funder}."
        case ItemKind.STRUCTURE_ANSWER:
            return "Orientation " + ANSWERS.get(str(detail.get("answer")), "répondue") + "."
        case ItemKind.HANDED_OVER:
            return f"Transféré depuis le département {detail.get('from_territory') or '?'}."
        case ItemKind.LOOKUP_ANSWERED:
            partner = CONSENT_PARTNERS.get(str(detail.get("partner")), "Le partenaire")
            return f"{partner[0].upper()}{partner[1:]} a répondu : sa réponse est dans le carnet."
        case ItemKind.CONSENT_CHANGED:
            partner = CONSENT_PARTNERS.get(str(detail.get("partner")), "un partenaire")
            given = "donné" if detail.get("granted") else "retiré"
            return f"La personne a {given} son accord de partage avec {partner}."
        case ItemKind.DEADLINE_SOON:
            return f"L'étape arrive à échéance le {detail.get('deadline_day') or '?'}."
        case ItemKind.INVITATION_EXPIRED:
            return "Aucun rendez-vous n'a été pris avec le lien d'invitation."
        case ItemKind.ATTENDANCE_TO_RECORD:
            return "Le rendez-vous est passé depuis 2 jours sans présence enregistrée."
        case ItemKind.QUARTERLY_DECLARATION_MISSING:
            return (
                "La CAF a clos le droit faute de déclaration trimestrielle de ressources : "
                "aidez la personne à la faire, le droit peut être rétabli. Le parcours reste "
                "ouvert."
            )
        case ItemKind.FRANCE_TRAVAIL_ORIENTS:
            return (
                f"Pas d'orientation à l'échéance légale du {detail.get('due_on') or '?'} : "
                "France Travail oriente la personne."
            )
        case ItemKind.REORIENTATION_REQUESTED:
            who = "La personne" if detail.get("requested_by_role") == "person" else "Son référent"
            return f"{who} demande une réorientation : décidez-la ou refusez-la."
        case ItemKind.REORIENTATION_DECIDED:
            decided = "acceptée" if detail.get("decision") == "accepted" else "refusée"
            return f"Réorientation {decided} par l'équipe d'orientation."
        case ItemKind.SOCIAL_REVIEW_DUE:
            due = str(detail.get("due_on") or "")
            day = "/".join(reversed(due.split("-"))) if due else "?"
            return f"Le parcours social est à revoir au plus tard le {day}."
    return ""


class EmailPreference(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    NONE = "none"


EMAIL_PREFERENCE_LABELS = {
    EmailPreference.IMMEDIATE: "Un courriel pour chaque élément, dès qu'il arrive",
    EmailPreference.DAILY: "Un résumé par jour (le matin)",
    EmailPreference.NONE: "Aucun courriel",
}

DEFAULT_EMAIL_PREFERENCE = EmailPreference.DAILY


class InboxItemRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: ItemKind
    title: str
    summary: str
    beneficiary_id: str | None
    person: str | None
    # What it is about within the journey (a training request's, an orientation's id).
    ref: str | None = None
    # A manager's words (a relance's message, an escalation's reason).
    message: str | None = None
    action_label: str
    href: str
    created_at: datetime


class InboxRead(BaseModel):
    items: list[InboxItemRead]
    total: int


class InboxPreferenceRead(BaseModel):
    email: EmailPreference
    label: str


class InboxPreferenceUpdate(BaseModel):
    email: EmailPreference
