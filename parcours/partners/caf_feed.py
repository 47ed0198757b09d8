"""The CAF's feed file as Parcours reads it: UTF-8, ``;``-separated, a header line naming the
columns, one RSA event per line, ISO dates, ``1``/``0`` booleans, amounts with a dot.

``FeedFormat.from_header`` checks the header once; ``FeedFormat.parse`` turns one line into a
``CafFeedEvent`` or raises ``LineRejected`` with the reason in French, as the import report
shows it. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir as nir_number

from parcours.partners.adapters.caf import RIGHTS_STATES, CafAddress, CafHousehold, CafRights

COLUMNS = (
    "id_evenement",
    "type_evenement",
    "date_evenement",
    "matricule_caf",
    "nir",
    "nom",
    "prenom",
    "date_naissance",
    "etat_droit_rsa",
    "date_ouverture_droit",
    "soumis_droits_devoirs",
    "motif_suspension",
    "motif_cloture",
    "date_cloture",
    "situation_familiale",
    "nb_adultes",
    "nb_enfants_a_charge",
    "sans_domicile_fixe",
    "adresse",
    "code_postal",
    "commune",
    "code_insee",
    "departement",
    "montant_rsa",
)


class EventKind(StrEnum):
    NEW_RIGHTS = "new_rights"
    CHANGE = "change"
    SUSPENSION = "suspension"
    CLOSURE = "closure"


EVENT_KIND_LABELS = {
    EventKind.NEW_RIGHTS: "ouverture de droit",
    EventKind.CHANGE: "changement de situation",
    EventKind.SUSPENSION: "suspension",
    EventKind.CLOSURE: "clôture",
}
# Which rights states (ETATDOSRSA) each kind of event may carry.
_STATES_OF_KIND = {
    EventKind.NEW_RIGHTS: frozenset("0234"),
    EventKind.CHANGE: frozenset("234"),
    EventKind.SUSPENSION: frozenset("34"),
    EventKind.CLOSURE: frozenset("56"),
}


class LineRejected(ValueError):
    """A line the import cannot apply; the message is the reason shown to the user."""


class InvalidFeedFile(ValueError):
    """The whole file is unreadable as a CAF feed (its header, its encoding)."""


class CafFeedEvent(CafRights):
    """One line of the feed, checked."""

    event_id: str
    kind: EventKind
    occurred_on: date
    nir: str
    first_name: str
    last_name: str
    birth_date: date


@dataclass(frozen=True)
class FeedFormat:
    """Where each column is in this file (the CAF may add columns or change their order)."""

    positions: dict[str, int]
    width: int

    @classmethod
    def from_header(cls, header: str) -> FeedFormat:
        names = [name.strip().lower() for name in _fields(header.lstrip("\ufeff"))]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise InvalidFeedFile(
                "Ce fichier n'est pas un flux RSA de la CAF : colonnes manquantes dans l'en-tête "
                f"({', '.join(missing)})."
            )
        return cls(positions={name: names.index(name) for name in COLUMNS}, width=len(names))

    def parse(self, text: str) -> CafFeedEvent:
        fields = _fields(text)
        if len(fields) != self.width:
            raise LineRejected(
                f"ligne incomplète : {len(fields)} colonnes au lieu de {self.width}"
                if len(fields) < self.width
                else f"ligne trop longue : {len(fields)} colonnes au lieu de {self.width}"
            )
        get = _Getter(fields, self.positions)
        event_id = get.required("id_evenement", "identifiant d'événement")
        if len(event_id) > 64:
            raise LineRejected("identifiant d'événement trop long (64 caractères au plus)")
        raw_kind = get.text("type_evenement")
        try:
            kind = EventKind(raw_kind)
        except ValueError:
            raise LineRejected(f"type d'événement inconnu (« {raw_kind} »)") from None
        caf_number = get.required("matricule_caf", "matricule CAF")
        if len(caf_number) > 20:
            raise LineRejected("matricule CAF trop long (20 caractères au plus)")
        state = get.text("etat_droit_rsa")
        if state not in RIGHTS_STATES:
            raise LineRejected(f"état du droit RSA inconnu (« {state} »)")
        if state not in _STATES_OF_KIND[kind]:
            raise LineRejected(
                f"état du droit RSA « {state} » ({RIGHTS_STATES[state][0].lower()}) incohérent "
                f"avec un événement de {EVENT_KIND_LABELS[kind]}"
            )
        address = None
        if get.text("adresse") or get.text("code_postal") or get.text("commune"):
            postal_code = get.text("code_postal")
            if not (len(postal_code) == 5 and postal_code.isdigit()):
                raise LineRejected(f"code postal invalide (« {postal_code} »)")
            address = CafAddress(
                street=get.required("adresse", "adresse"),
                postal_code=postal_code,
                city=get.required("commune", "commune"),
                insee_code=get.text("code_insee") or None,
            )
        return CafFeedEvent(
            event_id=event_id,
            kind=kind,
            occurred_on=get.date("date_evenement", "date d'événement"),
            caf_number=caf_number,
            nir=_nir(get.text("nir")),
            last_name=get.required("nom", "nom"),
            first_name=get.required("prenom", "prénom"),
            birth_date=_birth_date(get.date("date_naissance", "date de naissance")),
            rights_state=state,
            rights_opened_on=get.optional_date("date_ouverture_droit", "date d'ouverture du droit"),
            subject_to_duties=get.flag("soumis_droits_devoirs", "soumis aux droits et devoirs"),
            suspension_reason=get.text("motif_suspension") or None,
            closure_reason=get.text("motif_cloture") or None,
            closed_on=get.optional_date("date_cloture", "date de clôture"),
            department=get.required("departement", "département"),
            household=CafHousehold(
                family_situation=get.required("situation_familiale", "situation familiale"),
                adults=get.count("nb_adultes", "nombre d'adultes", 1, 2),
                dependent_children=get.count("nb_enfants_a_charge", "nombre d'enfants", 0, 20),
                homeless=get.flag("sans_domicile_fixe", "sans domicile fixe"),
                address=address,
                monthly_amount=get.amount("montant_rsa", "montant RSA"),
            ),
        )


def _fields(text: str) -> list[str]:
    return next(csv.reader([text.rstrip("\r\n")], delimiter=";"), [])


class _Getter:
    def __init__(self, fields: list[str], positions: dict[str, int]) -> None:
        self.fields, self.positions = fields, positions

    def text(self, column: str) -> str:
        return self.fields[self.positions[column]].strip()

    def required(self, column: str, label: str) -> str:
        value = self.text(column)
        if not value:
            raise LineRejected(f"{label} manquant")
        return value

    def date(self, column: str, label: str) -> dt.date:
        value = self.text(column)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            shown = f"« {value} »" if value else "vide"
            raise LineRejected(f"{label} invalide ({shown})") from None

    def optional_date(self, column: str, label: str) -> dt.date | None:
        return self.date(column, label) if self.text(column) else None

    def flag(self, column: str, label: str) -> bool:
        value = self.text(column)
        if value not in ("0", "1"):
            raise LineRejected(f"{label} : « {value} » au lieu de 0 ou 1")
        return value == "1"

    def count(self, column: str, label: str, low: int, high: int) -> int:
        value = self.text(column)
        if not value.isdigit() or not low <= int(value) <= high:
            raise LineRejected(f"{label} invalide (« {value} »)")
        return int(value)

    def amount(self, column: str, label: str) -> Decimal | None:
        value = self.text(column)
        if not value:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise LineRejected(f"{label} invalide (« {value} »)") from None
        if not amount.is_finite() or amount < 0:
            raise LineRejected(f"{label} invalide (« {value} »)")
        return amount


def _nir(value: str) -> str:
    if not value:
        raise LineRejected("NIR manquant")
    try:
        return str(nir_number.validate(value))
    except stdnum_errors.InvalidChecksum:
        raise LineRejected("NIR invalide (clé de contrôle incorrecte)") from None
    except stdnum_errors.ValidationError:
        raise LineRejected("NIR invalide (format)") from None


def _birth_date(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date.today():
        raise LineRejected(f"date de naissance invraisemblable ({value.isoformat()})")
    return value
