"""Reading resource files: data·inclusion structures and services (JSON or CSV, as
data·inclusion publishes them, schema v1) and trainings (CSV), row by row.

Pure functions: a file's bytes become rows; a row becomes either a record ready to store or
the French reason it is rejected (places are looked up in the ``Gazetteer`` the caller passes).
Storing is ``parcours.resources.service``' business.

data·inclusion's JSON files are a list of objects (an API page ``{"items": […]}`` is read
too); its CSV files hold one object per line, lists written as ``['a', 'b']`` (also read:
``["a", "b"]``, ``{a,b}`` and ``a|b`` / ``a;b`` / ``a,b``). Extra columns are ignored.

Training CSV columns (« , » or « ; », UTF-8; French or English headers):

==========================  ==================  ======================================
colonne                     ou                  contenu
==========================  ==================  ======================================
reference *                 id                  identifiant stable (clé des ré-imports)
intitule *                  title               intitulé de la formation
organisme *                 organisation        organisme de formation
financeur *                 funder              ``region`` ou ``france_travail``
formacode                                       code Formacode (5 chiffres)
rncp                                            code RNCP (``RNCP34566`` ou ``34566``)
date_debut *                start_on            AAAA-MM-JJ ou JJ/MM/AAAA
date_fin *                  end_on              AAAA-MM-JJ ou JJ/MM/AAAA
places_restantes            places_left         nombre de places encore ouvertes
heures_hebdomadaires        weekly_hours        heures par semaine (règle des 15 heures)
semaines                    weeks               durée en semaines
adresse                     address
code_postal                 postal_code
commune                     city
latitude, longitude                             sinon, la mairie de la commune
conditions                                      prérequis, public visé
description
==========================  ==================  ======================================
"""

from __future__ import annotations

import ast
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from data_inclusion.schema import v1
from pydantic import ValidationError

from parcours.resources import geo
from parcours.resources.schemas import Rejected, TrainingBase, TrainingCreate
from parcours.resources.text import normalise, words
from parcours.resources.vocabulary import (
    FUNDER_LABELS,
    PUBLIC_LABELS,
    THEMATIQUE_LABELS,
    TOUS_PUBLICS,
    TYPE_LABELS,
    categorie_of,
)

MAX_WORDS_PER_SERVICE = 300
# The service's columns its search row copies.
SEARCH_COLUMNS = ("active", "type", "frais", "latitude", "longitude", "nom")
NAME_WEIGHT, THEME_WEIGHT, TEXT_WEIGHT = 3, 2, 1


class FileKind(StrEnum):
    STRUCTURES = "structures"
    SERVICES = "services"
    TRAININGS = "trainings"


KIND_LABELS = {
    FileKind.STRUCTURES: "structures (data·inclusion)",
    FileKind.SERVICES: "services (data·inclusion)",
    FileKind.TRAININGS: "formations",
}

_LIST_FIELDS = frozenset(
    {
        "thematiques",
        "publics",
        "modes_accueil",
        "zone_eligibilite",
        "modes_mobilisation",
        "mobilisable_par",
        "reseaux_porteurs",
    }
)
_INT_FIELDS = frozenset({"nombre_semaines"})


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (its message is French)."""


@dataclass(frozen=True)
class Row:
    number: int
    data: dict[str, Any]

    @property
    def given_id(self) -> str | None:
        value = self.data.get("id") or self.data.get("reference")
        return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ParsedFile:
    filename: str
    kind: FileKind
    unit: str
    rows: list[Row]


# --- Files ---


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _json_rows(text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            f"JSON illisible (ligne {error.lineno}, colonne {error.colno})."
        ) from error
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise UnreadableFile("Le fichier JSON doit contenir une liste d'objets.")
    return [
        Row(n, item if isinstance(item, dict) else {"__not_an_object__": item})
        for n, item in enumerate(data, start=1)
    ]


def _csv_rows(text: str) -> list[Row]:
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames or len(reader.fieldnames) < 2:
        raise UnreadableFile("En-tête CSV introuvable (séparateur « , » ou « ; » attendu).")
    rows = []
    # Row numbers as a spreadsheet shows them: the header is line 1.
    for n, record in enumerate(reader, start=2):
        clean = {
            (k or "").strip(): (v.strip() if isinstance(v, str) else v)
            for k, v in record.items()
            if k
        }
        rows.append(Row(n, {k: (None if v == "" else v) for k, v in clean.items()}))
    return rows


def _is_json(filename: str, text: str) -> bool:
    if filename.lower().endswith(".json"):
        return True
    if filename.lower().endswith(".csv"):
        return False
    return text.lstrip()[:1] in ("[", "{")


def detect_kind(filename: str, rows: list[Row]) -> FileKind:
    keys: set[str] = set()
    for row in rows[:20]:
        keys.update(row.data)
    if keys & {"financeur", "funder", "intitule", "intitulé"}:
        return FileKind.TRAININGS
    if "structure_id" in keys:
        return FileKind.SERVICES
    if keys & {"siret", "reseaux_porteurs", "site_web"} or (
        "nom" in keys and "source" in keys and "description" not in keys
    ):
        return FileKind.STRUCTURES
    name = filename.lower()
    for kind, hints in (
        (FileKind.TRAININGS, ("formation", "training")),
        (FileKind.SERVICES, ("service",)),
        (FileKind.STRUCTURES, ("structure",)),
    ):
        if any(h in name for h in hints):
            return kind
    raise UnreadableFile(
        "Type de fichier inconnu : ni structures ni services data·inclusion, ni formations "
        "(colonnes attendues : voir la documentation de l'import)."
    )


def parse_file(filename: str, content: bytes) -> ParsedFile:
    """The rows of a file and what they describe; ``UnreadableFile`` if it cannot be read."""
    if not content.strip():
        raise UnreadableFile("Le fichier est vide.")
    text = _decode(content)
    as_json = _is_json(filename, text)
    rows = _json_rows(text) if as_json else _csv_rows(text)
    if not rows:
        raise UnreadableFile("Le fichier ne contient aucune ligne.")
    return ParsedFile(
        filename, detect_kind(filename, rows), "élément" if as_json else "ligne", rows
    )


# --- Rows: data·inclusion ---


def _as_list(value: Any) -> Any:
    """A list written in a CSV cell, in any of the usual ways."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = text[1:-1].split(",")
        return [str(p).strip().strip("'\"") for p in parsed if str(p).strip()]
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    for sep in ("|", ";", ","):
        if sep in text:
            return [p.strip().strip("'\"") for p in text.split(sep) if p.strip()]
    return [text]


def _epoch_date(value: Any) -> Any:
    """pandas writes dates as epoch milliseconds in JSON by default."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 10**9:
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC).date().isoformat()
    return value


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, float) and value != value:  # NaN from pandas
            value = None
        if key in _LIST_FIELDS:
            value = _as_list(value)
        elif key in _INT_FIELDS and isinstance(value, str | float) and value is not None:
            try:
                as_float = float(value)
                value = int(as_float) if as_float.is_integer() else value
            except ValueError:
                pass
        elif key == "date_maj":
            value = _epoch_date(value)
        clean[key] = value
    return clean


def french_reason(item: Any, vocabulary: str) -> str:
    """One pydantic error, in French."""
    kind = item["type"]
    ctx = item.get("ctx") or {}
    value = item.get("input")
    if kind == "missing" or (kind.endswith("_type") and value is None):
        return "champ obligatoire manquant"
    if kind == "enum":
        return f"valeur « {value} » absente {vocabulary}"
    if kind == "literal_error":
        return f"valeur « {value} » non reconnue"
    if kind == "string_too_short":
        return f"au moins {ctx.get('min_length')} caractères attendus"
    if kind == "string_too_long":
        return f"au plus {ctx.get('max_length')} caractères attendus"
    if kind == "too_short":
        return "liste vide"
    if kind == "string_pattern_mismatch":
        return f"format invalide (« {value} »)"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"date invalide (« {value} », format attendu AAAA-MM-JJ)"
    if kind in ("float_parsing", "float_type"):
        return f"nombre attendu (« {value} »)"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"nombre entier attendu (« {value} »)"
    if kind.startswith("url"):
        return f"lien invalide (« {value} »)"
    if kind in ("greater_than_equal", "greater_than"):
        return f"doit être au moins {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"doit être au plus {ctx.get('le', ctx.get('lt'))}"
    if kind in ("string_type", "list_type", "set_type", "dict_type"):
        return "type de valeur inattendu"
    if kind == "value_error":
        message = str(item["msg"]).removeprefix("Value error, ")
        if "email" in message.lower():
            return f"adresse électronique invalide (« {value} »)"
        return (message[:1].lower() + message[1:]).rstrip(".")
    return str(item["msg"])


def explain(error: ValidationError, vocabulary: str = "du référentiel data·inclusion") -> str:
    """A validation error in French, one part per field."""
    parts: list[str] = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not isinstance(p, int)]
        field = loc[0] if loc else ""
        text = french_reason(item, vocabulary)
        part = f"{field} : {text}" if field else text
        if part not in parts:
            parts.append(part)
    return " ; ".join(parts) + "."


def _coordinates(lat: float | None, lon: float | None) -> str | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        return "latitude et longitude vont ensemble"
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return f"coordonnées hors limites ({lat}, {lon})"
    return None


def _place(
    places: geo.Gazetteer,
    lat: float | None,
    lon: float | None,
    code_insee: str | None,
    postal: str | None,
    city: str | None,
) -> tuple[float | None, float | None]:
    """The given coordinates, or else the commune's town hall (when it is known)."""
    if lat is not None and lon is not None:
        return lat, lon
    found = places.commune(code_insee) or places.locate(postal, city)
    return (found.lat, found.lon) if found else (None, None)


def unknown_commune(places: geo.Gazetteer, code_insee: str | None) -> str | None:
    """Why a row's ``code_insee`` is refused (no commune has it), if it is."""
    if code_insee and not places.knows(code_insee):
        return f"code_insee : aucune commune n'a le code INSEE « {code_insee} »."
    return None


def validate_structure(row: Row) -> v1.Structure | Rejected:
    if "__not_an_object__" in row.data:
        return Rejected(row=row.number, id=None, reason="Un objet était attendu.")
    try:
        structure = v1.Structure.model_validate(_prepare(row.data))
    except ValidationError as error:
        return Rejected(row=row.number, id=row.given_id, reason=explain(error))
    if problem := _coordinates(structure.latitude, structure.longitude):
        return Rejected(row=row.number, id=structure.id, reason=problem.capitalize() + ".")
    return structure


def validate_service(row: Row) -> v1.Service | Rejected:
    if "__not_an_object__" in row.data:
        return Rejected(row=row.number, id=None, reason="Un objet était attendu.")
    try:
        service = v1.Service.model_validate(_prepare(row.data))
    except ValidationError as error:
        return Rejected(row=row.number, id=row.given_id, reason=explain(error))
    if problem := _coordinates(service.latitude, service.longitude):
        return Rejected(row=row.number, id=service.id, reason=problem.capitalize() + ".")
    return service


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def structure_values(structure: v1.Structure, places: geo.Gazetteer) -> dict[str, Any]:
    """The ``resource_structures`` columns of a valid structure."""
    lat, lon = _place(
        places,
        structure.latitude,
        structure.longitude,
        structure.code_insee,
        structure.code_postal,
        structure.commune,
    )
    return {
        "source": structure.source,
        "source_id": structure.id,
        "nom": structure.nom,
        "description": structure.description,
        "siret": structure.siret,
        "adresse": structure.adresse,
        "complement_adresse": structure.complement_adresse,
        "code_postal": structure.code_postal,
        "code_insee": structure.code_insee,
        "commune": structure.commune,
        "latitude": lat,
        "longitude": lon,
        "telephone": structure.telephone,
        "courriel": _text(structure.courriel),
        "site_web": _text(structure.site_web),
        "horaires_accueil": structure.horaires_accueil,
        "date_maj": structure.date_maj,
        "raw": structure.model_dump(mode="json", exclude_none=True),
    }


@dataclass(frozen=True)
class ServiceRecord:
    """A valid service, as stored: its columns, its search row, its thématique tags and its
    weighted words."""

    key: tuple[str, str]
    values: dict[str, Any]
    search: dict[str, Any]
    tags: frozenset[str]
    words: dict[str, int]


def zone_tokens(zone: Iterable[str] | None, code_insee: str | None, places: geo.Gazetteer) -> str:
    """``zone_eligibilite`` as space-separated tokens: each code; ``in:<département>`` for
    each commune or EPCI, so that a search by département finds them; ``*`` when there is no
    zone, ``france`` for the whole country."""
    codes = list(zone or [])
    if not codes:
        return " * "
    tokens: list[str] = []
    for code in codes:
        found = ["france"] if code in ("france", "99100") else [code]
        if len(code) == 5 and not code.startswith("99"):
            found.append(f"in:{geo.departement_of(code)}")
        elif len(code) == 9:  # an EPCI: its département is that of its communes
            if department := places.epci_departement(code):
                found.append(f"in:{department}")
            elif code_insee:
                found.append(f"in:{geo.departement_of(code_insee)}")
        tokens += [t for t in found if t not in tokens]
    return f" {' '.join(tokens)} "


def public_tokens(publics: Iterable[str]) -> str:
    """The publics as space-separated tokens (``*`` when none is given)."""
    return f" {' '.join(sorted(publics)) or '*'} "


def service_tags(service: v1.Service) -> set[str]:
    """``thematique:<value>`` for each thématique and for its category."""
    tags: set[str] = set()
    for t in service.thematiques or ():
        tags.add(f"thematique:{t.value}")
        tags.add(f"thematique:{categorie_of(t.value)}")
    return tags


def _weighted_words(parts: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for text, weight in parts:
        for w in words(text):
            if found.get(w, 0) < weight:
                if w not in found and len(found) >= MAX_WORDS_PER_SERVICE:
                    continue
                found[w] = weight
    return found


def service_record(
    service: v1.Service, structure_name: str | None, places: geo.Gazetteer
) -> ServiceRecord:
    """The stored form of a valid service; ``structure_name`` is searchable with it."""
    thematiques = sorted(t.value for t in service.thematiques or ())
    publics = sorted(p.value for p in service.publics or ())
    theme_text = " ".join(THEMATIQUE_LABELS.get(t, t) for t in thematiques)
    type_text = TYPE_LABELS.get(service.type.value) if service.type else None
    publics_text = " ".join(PUBLIC_LABELS.get(p, p) for p in publics if p != TOUS_PUBLICS)
    parts: list[tuple[str | None, int]] = [
        (service.nom, NAME_WEIGHT),
        (theme_text, THEME_WEIGHT),
        (type_text, THEME_WEIGHT),
        (structure_name, TEXT_WEIGHT),
        (service.commune, TEXT_WEIGHT),
        (publics_text, TEXT_WEIGHT),
        (service.description, TEXT_WEIGHT),
        (service.publics_precisions, TEXT_WEIGHT),
        (service.conditions_acces, TEXT_WEIGHT),
    ]
    lat, lon = _place(
        places,
        service.latitude,
        service.longitude,
        service.code_insee,
        service.code_postal,
        service.commune,
    )
    values = {
        "source": service.source,
        "source_id": service.id,
        "structure_source_id": service.structure_id,
        "nom": service.nom,
        "description": service.description,
        "type": service.type.value if service.type else None,
        "thematiques": thematiques,
        "frais": service.frais.value if service.frais else None,
        "frais_precisions": service.frais_precisions,
        "publics": publics,
        "publics_precisions": service.publics_precisions,
        "conditions_acces": service.conditions_acces,
        "adresse": service.adresse,
        "complement_adresse": service.complement_adresse,
        "code_postal": service.code_postal,
        "code_insee": service.code_insee,
        "commune": service.commune,
        "latitude": lat,
        "longitude": lon,
        "telephone": service.telephone,
        "courriel": _text(service.courriel),
        "contact_nom_prenom": service.contact_nom_prenom,
        "modes_accueil": sorted(m.value for m in service.modes_accueil or ()),
        "zone_eligibilite": list(service.zone_eligibilite) if service.zone_eligibilite else None,
        "lien_source": _text(service.lien_source),
        "lien_mobilisation": _text(service.lien_mobilisation),
        "modes_mobilisation": sorted(m.value for m in service.modes_mobilisation or ()),
        "mobilisable_par": sorted(m.value for m in service.mobilisable_par or ()),
        "mobilisation_precisions": service.mobilisation_precisions,
        "volume_horaire_hebdomadaire": service.volume_horaire_hebdomadaire,
        "nombre_semaines": service.nombre_semaines,
        "horaires_accueil": service.horaires_accueil,
        "date_maj": service.date_maj,
        "search_text": normalise(" ".join(text for text, _ in parts if text)),
        "raw": service.model_dump(mode="json", exclude_none=True),
        "active": True,
    }
    return ServiceRecord(
        key=(service.source, service.id),
        values=values,
        search={
            **{column: values[column] for column in SEARCH_COLUMNS},
            "zones": zone_tokens(service.zone_eligibilite, service.code_insee, places),
            "publics": public_tokens(publics),
        },
        tags=frozenset(service_tags(service)),
        words=_weighted_words(parts),
    )


# --- Rows: trainings ---

_TRAINING_COLUMNS = {
    "reference": "reference",
    "id": "reference",
    "intitule": "title",
    "intitulé": "title",
    "title": "title",
    "organisme": "organisation",
    "organisation": "organisation",
    "financeur": "funder",
    "funder": "funder",
    "formacode": "formacode",
    "rncp": "rncp",
    "date_debut": "start_on",
    "start_on": "start_on",
    "date_fin": "end_on",
    "end_on": "end_on",
    "places_restantes": "places_left",
    "places_left": "places_left",
    "heures_hebdomadaires": "weekly_hours",
    "weekly_hours": "weekly_hours",
    "semaines": "weeks",
    "weeks": "weeks",
    "adresse": "address",
    "address": "address",
    "code_postal": "postal_code",
    "postal_code": "postal_code",
    "commune": "city",
    "city": "city",
    "latitude": "latitude",
    "longitude": "longitude",
    "conditions": "conditions",
    "description": "description",
}
_FUNDERS = {
    "region": "region",
    "conseil regional": "region",
    "region auvergne rhone alpes": "region",
    "france travail": "france_travail",
    "france_travail": "france_travail",
    "ft": "france_travail",
    "pole emploi": "france_travail",
}
_TRAINING_FIELD_LABELS = {
    "reference": "reference",
    "title": "intitule",
    "organisation": "organisme",
    "funder": "financeur",
    "start_on": "date_debut",
    "end_on": "date_fin",
    "places_left": "places_restantes",
    "weekly_hours": "heures_hebdomadaires",
    "weeks": "semaines",
    "address": "adresse",
    "postal_code": "code_postal",
    "city": "commune",
}


def _french_date(value: Any) -> Any:
    if isinstance(value, str) and "/" in value:
        try:
            return datetime.strptime(value.strip(), "%d/%m/%Y").date().isoformat()
        except ValueError:
            return value
    return value


def validate_training(row: Row) -> TrainingCreate | Rejected:
    if "__not_an_object__" in row.data:
        return Rejected(row=row.number, id=None, reason="Un objet était attendu.")
    data: dict[str, Any] = {}
    for key, value in row.data.items():
        field = _TRAINING_COLUMNS.get(normalise(key).replace(" ", "_") if key else "")
        if field and value is not None:
            data[field] = value
    if isinstance(data.get("funder"), str):
        data["funder"] = _FUNDERS.get(normalise(data["funder"]), data["funder"])
    for field in ("start_on", "end_on"):
        data[field] = _french_date(data.get(field))
    for field in ("weekly_hours", "latitude", "longitude"):
        if isinstance(data.get(field), str):
            data[field] = data[field].replace(",", ".")
    if not data.get("reference"):
        return Rejected(row=row.number, id=None, reason="reference : champ obligatoire manquant.")
    try:
        training = TrainingCreate.model_validate(data)
    except ValidationError as error:
        reason = explain(error, "des valeurs possibles (region, france_travail)")
        for english, french in _TRAINING_FIELD_LABELS.items():
            reason = reason.replace(f"{english} :", f"{french} :")
        return Rejected(row=row.number, id=str(data["reference"]), reason=reason)
    if problem := _coordinates(training.latitude, training.longitude):
        return Rejected(row=row.number, id=training.reference, reason=problem.capitalize() + ".")
    return training


def training_values(training: TrainingBase, places: geo.Gazetteer) -> dict[str, Any]:
    """The ``trainings`` columns of a valid training (created or updated)."""
    lat, lon = _place(
        places, training.latitude, training.longitude, None, training.postal_code, training.city
    )
    search_text = normalise(
        " ".join(
            t
            for t in (
                training.title,
                training.organisation,
                FUNDER_LABELS[training.funder],
                training.city,
                training.formacode,
                training.rncp,
                training.conditions,
                training.description,
            )
            if t
        )
    )
    return {
        "title": training.title,
        "organisation": training.organisation,
        "funder": training.funder.value,
        "formacode": training.formacode,
        "rncp": training.rncp,
        "start_on": training.start_on,
        "end_on": training.end_on,
        "places_left": training.places_left,
        "weekly_hours": training.weekly_hours,
        "weeks": training.weeks,
        "address": training.address,
        "postal_code": training.postal_code,
        "city": training.city,
        "latitude": lat,
        "longitude": lon,
        "conditions": training.conditions,
        "description": training.description,
        "search_text": search_text,
    }
