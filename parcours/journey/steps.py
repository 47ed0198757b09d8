"""Steps, decisions and reasons of a journey, with their French labels."""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    INTAKE = "intake"
    DIAGNOSIS = "diagnosis"
    ORIENTATION = "orientation"
    ACCOMPANIMENT = "accompaniment"
    EMPLOYMENT = "employment"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEP_LABELS = {
    Step.INTAKE: "Accueil",
    Step.DIAGNOSIS: "Diagnostic",
    Step.ORIENTATION: "Orientation",
    Step.ACCOMPANIMENT: "Accompagnement",
    Step.EMPLOYMENT: "Emploi",
    Step.FOLLOW_UP: "Suivi dans l'emploi",
    Step.CLOSED: "Clôturé",
}


class OrientationKind(StrEnum):
    PROFESSIONAL = "professional"
    SOCIO_PROFESSIONAL = "socio_professional"
    SOCIAL = "social"

    @property
    def label(self) -> str:
        return ORIENTATION_LABELS[self]


ORIENTATION_LABELS = {
    OrientationKind.PROFESSIONAL: "Professionnelle (France Travail)",
    OrientationKind.SOCIO_PROFESSIONAL: "Socio-professionnelle",
    OrientationKind.SOCIAL: "Sociale",
}


class RsaStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"


RSA_STATUS_LABELS = {
    RsaStatus.OPEN: "Droits ouverts",
    RsaStatus.SUSPENDED: "Droits suspendus",
    RsaStatus.CLOSED: "Droits clos",
}


class EmploymentContract(StrEnum):
    CDI = "cdi"
    CDD = "cdd"
    INTERIM = "interim"
    BUSINESS_CREATION = "business_creation"
    INCLUSION = "inclusion"
    OTHER = "other"


CONTRACT_LABELS = {
    EmploymentContract.CDI: "CDI",
    EmploymentContract.CDD: "CDD",
    EmploymentContract.INTERIM: "Intérim",
    EmploymentContract.BUSINESS_CREATION: "Création d'entreprise",
    EmploymentContract.INCLUSION: "Insertion par l'activité économique",
    EmploymentContract.OTHER: "Autre",
}


class ExitReason(StrEnum):
    SUSTAINED_EMPLOYMENT = "sustained_employment"
    EMPLOYMENT = "employment"
    RIGHTS_CLOSED = "rights_closed"
    DECLINED = "declined"
    MOVED_AWAY = "moved_away"
    OTHER = "other"

    @property
    def label(self) -> str:
        return EXIT_LABELS[self]


EXIT_LABELS = {
    ExitReason.SUSTAINED_EMPLOYMENT: "Emploi durable (suivi terminé)",
    ExitReason.EMPLOYMENT: "Emploi, sans suivi",
    ExitReason.RIGHTS_CLOSED: "Fin des droits RSA",
    ExitReason.DECLINED: "Refus de l'accompagnement",
    ExitReason.MOVED_AWAY: "Départ hors du territoire",
    ExitReason.OTHER: "Autre motif",
}

# Exits counted as "sorties positives" in the indicators.
POSITIVE_EXITS = frozenset({ExitReason.SUSTAINED_EMPLOYMENT, ExitReason.EMPLOYMENT})
