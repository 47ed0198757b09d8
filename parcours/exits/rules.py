"""The default list of end-of-support reasons and what a code may look like (pure Python).

Inspired by what the FSE+ (situation à la sortie : emploi, formation, création d'activité…)
and the départements' PDI reports ask for: each code is one case of the journey's
``ExitReason``, so older indicators (by reason) keep counting the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parcours.journey.messages import ExitReason

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class DefaultExit:
    code: str
    label: str
    exit_reason: ExitReason
    positive: bool


DEFAULT_EXIT_CODES: tuple[DefaultExit, ...] = (
    DefaultExit(
        "emploi_durable",
        "Emploi durable (CDI, CDD de 6 mois ou plus)",
        ExitReason.SUSTAINED_EMPLOYMENT,
        True,
    ),
    DefaultExit(
        "emploi_transition",
        "Emploi de transition (CDD de moins de 6 mois, intérim, contrat aidé)",
        ExitReason.EMPLOYMENT,
        True,
    ),
    DefaultExit(
        "formation_qualifiante", "Formation qualifiante ou certifiante", ExitReason.OTHER, True
    ),
    DefaultExit(
        "creation_entreprise", "Création ou reprise d'entreprise", ExitReason.EMPLOYMENT, True
    ),
    DefaultExit("demenagement", "Déménagement hors du département", ExitReason.MOVED_AWAY, False),
    DefaultExit("fin_de_droits", "Fin des droits RSA", ExitReason.RIGHTS_CLOSED, False),
    DefaultExit("refus", "Refus de l'accompagnement", ExitReason.DECLINED, False),
    DefaultExit("sante", "Problème de santé, invalidité", ExitReason.OTHER, False),
    DefaultExit("deces", "Décès", ExitReason.OTHER, False),
    DefaultExit("autre", "Autre motif", ExitReason.OTHER, False),
)


def code_problem(code: str) -> str | None:
    """Why a new code is not acceptable (None: it is)."""
    if not CODE_PATTERN.match(code):
        return (
            "Le code s'écrit en minuscules, chiffres et « _ » (2 à 40 caractères), "
            "par exemple « emploi_durable »."
        )
    return None
