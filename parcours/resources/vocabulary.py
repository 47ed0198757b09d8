"""The data·inclusion vocabularies (schema v1, from the ``data-inclusion-schema`` package) with
their French labels, and the funders of trainings."""

from __future__ import annotations

from enum import StrEnum

from data_inclusion.schema import v1

THEMATIQUE_LABELS: dict[str, str] = {t.value: t.label for t in v1.Thematique}
CATEGORIE_LABELS: dict[str, str] = {c.value: c.label for c in v1.Categorie}
TYPE_LABELS: dict[str, str] = {t.value: t.label for t in v1.TypeService}
PUBLIC_LABELS: dict[str, str] = {p.value: p.label for p in v1.Public}
FRAIS_LABELS: dict[str, str] = {f.value: f.label for f in v1.Frais}
MODE_ACCUEIL_LABELS: dict[str, str] = {m.value: m.label for m in v1.ModeAccueil}
MODE_MOBILISATION_LABELS: dict[str, str] = {m.value: m.label for m in v1.ModeMobilisation}
MOBILISABLE_PAR_LABELS: dict[str, str] = {p.value: p.label for p in v1.PersonneMobilisatrice}
TOUS_PUBLICS = v1.Public.TOUS_PUBLICS.value


def categorie_of(thematique: str) -> str:
    """``mobilite--preparer-un-permis`` belongs to ``mobilite``."""
    return thematique.split("--", 1)[0]


def thematique_label(value: str) -> str:
    return THEMATIQUE_LABELS.get(value) or CATEGORIE_LABELS.get(value) or value


def thematique_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(category, its label, [(thematique, label)…]) in the schema's order, for pickers."""
    grouped: dict[str, list[tuple[str, str]]] = {c: [] for c in CATEGORIE_LABELS}
    for value, label in THEMATIQUE_LABELS.items():
        grouped.setdefault(categorie_of(value), []).append((value, label))
    return [(c, CATEGORIE_LABELS.get(c, c), items) for c, items in grouped.items()]


class Funder(StrEnum):
    """Who pays for a training, and so decides a training request."""

    REGION = "region"
    FRANCE_TRAVAIL = "france_travail"


FUNDER_LABELS = {Funder.REGION: "Région", Funder.FRANCE_TRAVAIL: "France Travail"}
