"""The CAF's feed of RSA beneficiaries: its events, the CNAF codes they carry, a reproducible
generator of realistic streams, and the CSV file form used for imports and benchmarks.

Codes are the CNAF's, as the monthly "flux bénéficiaires RSA" carries them and as
gip-inclusion/carnet-de-bord (``backend/cdb/caf_msa/parse_infos_foyer_rsa.py``) and WebRSA
(``app/models/option.php``) decode them:

- ``ETATDOSRSA``, the state of the rights (``rights_state``): 0 new request awaiting the
  département's decision, 1 refused, 2 open and payable, 3 open and suspended (the right itself
  is questioned), 4 open but payment suspended (the amount cannot be computed), 5 closed,
  6 closed on an earlier month (transferred claims or a regularisation this month);
- ``TOPPERSDRODEVORSA`` (``subject_to_duties``): 1 when the person is subject to the
  "droits et devoirs" of the RSA, 0 otherwise;
- ``MOTISUSDRORSA`` / ``MOTISUSVERSRSA`` (``suspension_reason``): why the right (state 3) or the
  payment (state 4) is suspended; ``MOTICLORSA`` (``closure_reason``) and ``DTCLORSA``
  (``closed_on``) for closures; ``SITFAM`` (``household.family_situation``);
  ``TOPSANSDOMFIXE`` (``household.homeless``).

The CSV file: UTF-8, ``;``-separated, one header line (``FEED_COLUMNS``), one event per line,
ISO dates, booleans as the CNAF writes them (``1``/``0``), amounts with a dot.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from simulators.synthetic import (
    SAVOIE_COMMUNES,
    Place,
    SyntheticPerson,
    make_address,
    make_person,
)


class RightsState(StrEnum):
    """``ETATDOSRSA``."""

    PENDING = "0"
    REFUSED = "1"
    OPEN = "2"
    OPEN_SUSPENDED = "3"
    OPEN_PAYMENT_SUSPENDED = "4"
    CLOSED = "5"
    CLOSED_EARLIER_MONTH = "6"


RIGHTS_STATE_LABELS = {
    RightsState.PENDING: "Nouvelle demande en attente de décision du département",
    RightsState.REFUSED: "Droit refusé",
    RightsState.OPEN: "Droit ouvert et versable",
    RightsState.OPEN_SUSPENDED: "Droit ouvert et suspendu",
    RightsState.OPEN_PAYMENT_SUSPENDED: "Droit ouvert mais versement suspendu",
    RightsState.CLOSED: "Droit clos",
    RightsState.CLOSED_EARLIER_MONTH: "Droit clos sur mois antérieur",
}
CLOSED_STATES = frozenset({RightsState.CLOSED, RightsState.CLOSED_EARLIER_MONTH})
SUSPENDED_STATES = frozenset({RightsState.OPEN_SUSPENDED, RightsState.OPEN_PAYMENT_SUSPENDED})

# MOTISUSDRORSA: the right is suspended (state 3). A subset.
RIGHT_SUSPENSION_REASONS = {
    "DB": "Ressources",
    "DC": "Enquête administrative",
    "DL": "N'habite plus à l'adresse indiquée",
    "GK": "RSA : contrat d'insertion",
    "GL": "RSA : action non engagée",
}
# MOTISUSVERSRSA: the payment is suspended (state 4). A subset.
PAYMENT_SUSPENSION_REASONS = {
    "01": "Ressources trop élevées",
    "02": "Moins de 25 ans sans enfant ni autre personne à charge",
    "05": "RSA inférieur au seuil de versement",
    "06": "Déclaration trimestrielle de ressources non fournie",
    "09": "Résidence non conforme",
    "36": "Titre de séjour absent",
    "44": "Hospitalisation",
    "AB": "Allocataire absent du foyer",
    "CV": "Attente de décision du président du conseil départemental",
}
# MOTICLORSA.
CLOSURE_REASONS = {
    "PCG": "Clôture suite à décision du président du conseil départemental",
    "ECH": "Clôture suite à échéance (4 mois sans droit)",
    "MUT": "Clôture suite à mutation du dossier dans un autre organisme",
    "RGD": "Clôture pour regroupement de dossiers",
    "RFD": "Radié fin de droit",
    "RAU": "Radié autre motif",
}
# SITFAM. A subset.
FAMILY_SITUATIONS = {
    "CEL": "Célibataire",
    "DIV": "Divorcé(e)",
    "ISO": "Isolement après vie maritale ou PACS",
    "MAR": "Mariage",
    "PAC": "PACS",
    "SEF": "Séparation de fait",
    "VEU": "Veuvage",
    "VIM": "Vie maritale",
}
COUPLE_SITUATIONS = frozenset({"MAR", "PAC", "VIM"})
# Montant forfaitaire du RSA for one person alone, from April 2025; amounts here are indicative.
RSA_BASE_AMOUNT = Decimal("646.52")


class EventKind(StrEnum):
    NEW_RIGHTS = "new_rights"
    CHANGE = "change"
    SUSPENSION = "suspension"
    CLOSURE = "closure"


class Address(BaseModel):
    street: str = Field(max_length=200)
    postal_code: str = Field(pattern=r"^\d{5}$")
    city: str = Field(max_length=100)
    insee_code: str | None = Field(default=None, pattern=r"^(\d{5}|2[AB]\d{3})$")


class Household(BaseModel):
    family_situation: str = Field(description="Code SITFAM de la CNAF (CEL, VIM, MAR…)")
    adults: int = Field(ge=1, le=2)
    dependent_children: int = Field(ge=0, le=20)
    homeless: bool = Field(description="TOPSANSDOMFIXE")
    address: Address | None
    monthly_amount: Decimal | None = Field(default=None, ge=0, description="Montant RSA versé")


def _new_event_id() -> str:
    return str(uuid.uuid4())


class RsaEvent(BaseModel):
    """One event of the feed: what changed for one beneficiary's RSA rights."""

    event_id: str = Field(default_factory=_new_event_id, min_length=1, max_length=64)
    kind: EventKind
    occurred_on: date
    caf_number: str = Field(min_length=1, max_length=20, description="Matricule CAF")
    nir: str = Field(pattern=r"^[12378]\d{4}(\d{2}|2[AB])\d{6}(\d{2})?$")
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    rights_state: RightsState = Field(description="ETATDOSRSA")
    rights_opened_on: date | None = None
    subject_to_duties: bool = Field(description="TOPPERSDRODEVORSA : soumis aux droits et devoirs")
    suspension_reason: str | None = Field(default=None, description="MOTISUSDRORSA/MOTISUSVERSRSA")
    closure_reason: str | None = Field(default=None, description="MOTICLORSA")
    closed_on: date | None = Field(default=None, description="DTCLORSA")
    department: str = Field(pattern=r"^(\d{2,3}|2[AB])$")
    household: Household


# --- A reproducible stream of events --------------------------------------------------------


@dataclass(slots=True)
class _Case:
    """One beneficiary as the generator follows them through the stream."""

    person: SyntheticPerson
    household: Household
    department: str
    opened_on: date
    subject_to_duties: bool
    state: RightsState = RightsState.OPEN
    suspension_reason: str | None = None
    open_index: int = field(default=-1)


def _monthly_amount(rng: random.Random, adults: int, children: int) -> Decimal:
    # 1 for one adult, +0.5 for a second, +0.3 for each of the first two others, +0.4 beyond.
    dependants = (adults - 1) + children
    factor = Decimal(1) + sum(
        (Decimal("0.5") if i == 0 and adults == 2 else Decimal("0.3") if i < 2 else Decimal("0.4"))
        for i in range(dependants)
    )
    resources = Decimal(rng.randrange(0, 25_000)) / 100
    return max(Decimal(0), (RSA_BASE_AMOUNT * factor - resources).quantize(Decimal("0.01")))


def _household(rng: random.Random, communes: tuple[Place, ...]) -> tuple[Household, str]:
    situation = rng.choices(list(FAMILY_SITUATIONS), weights=(40, 10, 12, 5, 3, 10, 2, 18))[0]
    adults = 2 if situation in COUPLE_SITUATIONS else 1
    children = rng.choices((0, 1, 2, 3, 4), weights=(45, 25, 18, 8, 4))[0]
    homeless = rng.random() < 0.03
    address = make_address(rng, communes)
    household = Household(
        family_situation=situation,
        adults=adults,
        dependent_children=children,
        homeless=homeless,
        address=Address(
            street=address.street,
            postal_code=address.postal_code,
            city=address.city,
            insee_code=address.insee_code,
        ),
        monthly_amount=_monthly_amount(rng, adults, children),
    )
    return household, address.department


def _changed_household(
    rng: random.Random, household: Household, communes: tuple[Place, ...]
) -> Household:
    """A move, a birth, a couple formed or broken: what a "change" event reports."""
    change = rng.choice(("move", "birth", "couple", "separation"))
    adults, children, situation = household.adults, household.dependent_children, None
    address = household.address
    if change == "move" or address is None:
        moved = make_address(rng, communes)
        address = Address(
            street=moved.street,
            postal_code=moved.postal_code,
            city=moved.city,
            insee_code=moved.insee_code,
        )
    elif change == "birth":
        children += 1
    elif change == "couple" and adults == 1:
        adults, situation = 2, "VIM"
    elif adults == 2:
        adults, situation = 1, "SEF"
    return household.model_copy(
        update={
            "adults": adults,
            "dependent_children": children,
            "family_situation": situation or household.family_situation,
            "address": address,
            "monthly_amount": _monthly_amount(rng, adults, children),
        }
    )


def _event(case: _Case, kind: EventKind, occurred_on: date, rng: random.Random) -> RsaEvent:
    closure_reason = closed_on = None
    if case.state in CLOSED_STATES:
        closure_reason = rng.choice(list(CLOSURE_REASONS))
        closed_on = occurred_on
    return RsaEvent(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        kind=kind,
        occurred_on=occurred_on,
        caf_number=case.person.caf_number,
        nir=case.person.nir,
        first_name=case.person.first_name,
        last_name=case.person.last_name,
        birth_date=case.person.birth_date,
        rights_state=case.state,
        rights_opened_on=case.opened_on,
        subject_to_duties=case.subject_to_duties,
        suspension_reason=case.suspension_reason,
        closure_reason=closure_reason,
        closed_on=closed_on,
        department=case.department,
        household=case.household,
    )


def generate_events(
    count: int,
    seed: int = 0,
    today: date | None = None,
    communes: tuple[Place, ...] = SAVOIE_COMMUNES,
) -> list[RsaEvent]:
    """``count`` events over the 180 days before ``today``, the same for the same arguments.

    About half open new rights; the others change, suspend, resume (a "change" back to state 2)
    or close the rights of someone already in the stream, in an order the CAF could send.
    People live in ``communes`` ((code INSEE, postal code, name)); each line carries the
    département of the commune where their rights opened.
    """
    rng = random.Random(seed)
    today = today or date.today()
    start = today - timedelta(days=180)
    open_cases: list[_Case] = []  # not closed; swap-removed so that 10,000 events stay fast
    events: list[RsaEvent] = []
    caf_numbers: set[str] = set()
    nirs: set[str] = set()

    def close(case: _Case) -> None:
        last = open_cases.pop()
        if last is not case:
            open_cases[case.open_index] = last
            last.open_index = case.open_index

    for index in range(count):
        occurred_on = start + timedelta(days=index * 180 // max(count, 1))
        if not open_cases or rng.random() < 0.5:
            person = make_person(rng, today)
            while person.caf_number in caf_numbers or person.nir[:13] in nirs:
                person = make_person(rng, today)
            caf_numbers.add(person.caf_number)
            nirs.add(person.nir[:13])
            household, department = _household(rng, communes)
            case = _Case(
                person=person,
                household=household,
                department=department,
                opened_on=occurred_on - timedelta(days=rng.randrange(0, 25)),
                subject_to_duties=rng.random() < 0.88,
                open_index=len(open_cases),
            )
            open_cases.append(case)
            events.append(_event(case, EventKind.NEW_RIGHTS, occurred_on, rng))
            continue
        case = rng.choice(open_cases)
        if case.state in SUSPENDED_STATES:
            kind = rng.choices((EventKind.CHANGE, EventKind.CLOSURE), weights=(60, 40))[0]
        else:
            kind = rng.choices(
                (EventKind.CHANGE, EventKind.SUSPENSION, EventKind.CLOSURE), weights=(45, 33, 22)
            )[0]
        if kind == EventKind.CHANGE:
            case.household = _changed_household(rng, case.household, communes)
            case.state, case.suspension_reason = RightsState.OPEN, None
        elif kind == EventKind.SUSPENSION:
            if rng.random() < 0.4:
                case.state = RightsState.OPEN_SUSPENDED
                case.suspension_reason = rng.choice(list(RIGHT_SUSPENSION_REASONS))
            else:
                case.state = RightsState.OPEN_PAYMENT_SUSPENDED
                case.suspension_reason = rng.choice(list(PAYMENT_SUSPENSION_REASONS))
        else:
            case.state = rng.choices(
                (RightsState.CLOSED, RightsState.CLOSED_EARLIER_MONTH), weights=(90, 10)
            )[0]
            case.suspension_reason = None
            close(case)
        events.append(_event(case, kind, occurred_on, rng))
    return events


# --- The CSV file ---------------------------------------------------------------------------

FEED_COLUMNS = (
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
_COLUMN = {name: position for position, name in enumerate(FEED_COLUMNS)}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def csv_fields(event: RsaEvent) -> list[str]:
    household, address = event.household, event.household.address
    values: tuple[object, ...] = (
        event.event_id,
        event.kind.value,
        event.occurred_on.isoformat(),
        event.caf_number,
        event.nir,
        event.last_name,
        event.first_name,
        event.birth_date.isoformat(),
        event.rights_state.value,
        event.rights_opened_on.isoformat() if event.rights_opened_on else None,
        event.subject_to_duties,
        event.suspension_reason,
        event.closure_reason,
        event.closed_on.isoformat() if event.closed_on else None,
        household.family_situation,
        household.adults,
        household.dependent_children,
        household.homeless,
        address.street if address else None,
        address.postal_code if address else None,
        address.city if address else None,
        address.insee_code if address else None,
        event.department,
        household.monthly_amount,
    )
    return [_text(value) for value in values]


def _csv_line(fields: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="").writerow(fields)
    return buffer.getvalue()


FEED_HEADER = _csv_line(FEED_COLUMNS)


def events_to_csv(events: Iterable[RsaEvent]) -> str:
    """A whole feed file: the header, then one line per event."""
    return "".join(f"{line}\n" for line in (FEED_HEADER, *map(_csv_line, map(csv_fields, events))))


class Defect(StrEnum):
    """How a deliberately malformed line is broken: each one an importer must reject."""

    MISSING_FIELDS = "missing_fields"
    BAD_BIRTH_DATE = "bad_birth_date"
    BAD_NIR_KEY = "bad_nir_key"
    UNKNOWN_RIGHTS_STATE = "unknown_rights_state"
    EMPTY_CAF_NUMBER = "empty_caf_number"
    UNKNOWN_KIND = "unknown_kind"


def _break(fields: list[str], defect: Defect) -> list[str]:
    broken = list(fields)
    if defect == Defect.MISSING_FIELDS:
        return broken[:-3]
    if defect == Defect.BAD_BIRTH_DATE:
        broken[_COLUMN["date_naissance"]] = broken[_COLUMN["date_naissance"]][:5] + "02-30"
    elif defect == Defect.BAD_NIR_KEY:
        nir = broken[_COLUMN["nir"]]
        broken[_COLUMN["nir"]] = nir[:13] + f"{(int(nir[13:]) % 97) + 1:02d}"
    elif defect == Defect.UNKNOWN_RIGHTS_STATE:
        broken[_COLUMN["etat_droit_rsa"]] = "9"
    elif defect == Defect.EMPTY_CAF_NUMBER:
        broken[_COLUMN["matricule_caf"]] = ""
    elif defect == Defect.UNKNOWN_KIND:
        broken[_COLUMN["type_evenement"]] = "reprise_activite"
    return broken


@dataclass(frozen=True, slots=True)
class FeedLine:
    number: int  # in the file: the header is line 1, so data lines start at 2
    text: str
    defect: Defect | None = None


def generate_feed_lines(
    n: int,
    seed: int = 0,
    malformed: int = 0,
    today: date | None = None,
    communes: tuple[Place, ...] = SAVOIE_COMMUNES,
) -> Iterator[FeedLine]:
    """The ``n`` data lines of a feed file (header excluded: ``FEED_HEADER``), of which
    ``malformed`` are deliberately broken and flagged with their ``defect``.

    The same arguments give the same lines; the good lines do not depend on ``malformed``.
    """
    if not 0 <= malformed <= n:
        raise ValueError(f"malformed must be between 0 and n ({n}), not {malformed}")
    defects_rng = random.Random(f"{seed}-defects")
    broken_at = set(defects_rng.sample(range(n), malformed))
    for index, event in enumerate(generate_events(n, seed=seed, today=today, communes=communes)):
        fields = csv_fields(event)
        defect = None
        if index in broken_at:
            defect = defects_rng.choice(list(Defect))
            fields = _break(fields, defect)
        yield FeedLine(number=index + 2, text=_csv_line(fields), defect=defect)


@dataclass(frozen=True, slots=True)
class FeedFile:
    path: Path
    lines: int
    malformed: dict[int, Defect]  # line number → defect


def write_feed_file(
    path: Path | str,
    n: int,
    seed: int = 0,
    malformed: int = 0,
    today: date | None = None,
    communes: tuple[Place, ...] = SAVOIE_COMMUNES,
) -> FeedFile:
    """Write a feed file of ``n`` data lines and say which lines are broken, and how."""
    path = Path(path)
    broken: dict[int, Defect] = {}
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(FEED_HEADER + "\n")
        lines = generate_feed_lines(
            n, seed=seed, malformed=malformed, today=today, communes=communes
        )
        for line in lines:
            out.write(line.text + "\n")
            if line.defect is not None:
                broken[line.number] = line.defect
    return FeedFile(path=path, lines=n, malformed=broken)
