"""The managers' indicators (per territory, structure and month) and a journey's full story.

Indicators are for managers (their own département) and administrators (any département).
They read the milestones and step spans the journeys' projection keeps, never the journeys'
timelines: a year of a département is a handful of aggregate queries.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.access.repository import PeopleRepository
from parcours.access.rules import Principal, Role
from parcours.carnet.service import CarnetService
from parcours.core.errors import Forbidden, InvalidReference
from parcours.core.french import MONTH_NAMES
from parcours.core.schemas import PersonRef, person_name
from parcours.core.settings import Settings
from parcours.exits.schemas import ExitCodeRead
from parcours.exits.service import ExitCodeService
from parcours.indicators.repository import (
    IndicatorRepository,
    IndicatorScope,
    counted_percentile,
    percentile,
)
from parcours.indicators.rules import (
    FRANCE_TRAVAIL,
    PARIS,
    REMOBILISATION,
    add_months,
    days_per_step,
    local_day,
    stay_days,
)
from parcours.indicators.schemas import (
    AppointmentFigures,
    AppointmentIndicators,
    AppointmentMonth,
    AppointmentStructure,
    ExitCodeCount,
    ExitCount,
    Figures,
    FunnelStage,
    IndicatorFilter,
    IndicatorsRead,
    JourneyStory,
    LawFigures,
    MonthFigures,
    Rate,
    StepDelay,
    StepStay,
    StepTotal,
    StructureFigures,
)
from parcours.journey.messages import ExitReason, OrientationKind, Step
from parcours.journey.rules import POSITIVE_EXITS
from parcours.journey.schemas import EXIT_LABELS, ORIENTATION_LABELS, STEP_LABELS

MAX_MONTHS = 36
NO_STRUCTURE = "Sans structure"
# The steps whose time is measured, in the journey's order.
MEASURED_STEPS = [s for s in Step if s is not Step.CLOSED]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_label(key: str) -> str:
    year, month = key.split("-")
    return f"{MONTH_NAMES[int(month) - 1]} {year}"


def _first_day(key: str) -> date:
    year, month = key.split("-")
    return date(int(year), int(month), 1)


def _months(first: str, last: str) -> list[str]:
    keys, day = [], _first_day(first)
    while month_key(day) <= last:
        keys.append(month_key(day))
        day = add_months(day, 1)
    return keys


def _percent(numerator: int, denominator: int) -> float | None:
    return round(100 * numerator / denominator, 1) if denominator else None


def _rate(label: str, numerator: int, denominator: int) -> Rate:
    return Rate(
        label=label,
        numerator=numerator,
        denominator=denominator,
        percent=_percent(numerator, denominator),
    )


def _days_label(days: int, *, month: bool = False) -> str:
    if days % 7 == 0 and days >= 35:
        return f"sous {days // 7} semaines"
    return "sous 1 mois" if month and days == 30 else f"sous {days} jours"


@dataclass
class _Tally:
    """Counts added up over months or structures (each query's rows fall in one)."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, row: dict[str, Any], names: Iterable[str], prefix: str = "") -> None:
        for name in names:
            self.counts[prefix + name] += int(row[name] or 0)

    def __getitem__(self, name: str) -> int:
        return self.counts.get(name, 0)


Tally = TypeVar("Tally")


def _counted_in(
    row: dict[str, Any],
    total: Tally,
    by_month: dict[str, Tally],
    by_structure: dict[str | None, Tally],
) -> tuple[Tally, ...]:
    """The tallies a grouped row adds to (its ``counts_in``: see the repository). Only those
    are looked up: a month's row must not make an empty line for « no structure »."""
    match row["counts_in"]:
        case "months":
            return (total, by_month[row["month"]])
        case "structures":
            return (by_structure[row["structure_id"]],)
        case _:
            return (total, by_month[row["month"]], by_structure[row["structure_id"]])


@dataclass
class _AppointmentTally:
    """What the appointments' figures of one group add up."""

    oriented: int = 0
    within: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    due: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # How many people first attended after so many days.
    delays: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    with_slot: int = 0
    self_booked: int = 0
    recorded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    no_shows: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def figures(self) -> AppointmentFigures:
        delays = self.delays
        people = sum(delays.values())
        return AppointmentFigures(
            oriented=self.oriented,
            first_attended_within=[
                _rate(f"1er rendez-vous honoré {_days_label(d)}", self.within[d], self.due[d])
                for d in FIRST_APPOINTMENT_DAYS
            ],
            mean_delay_days=_round(sum(d * n for d, n in delays.items()) / people)
            if people
            else None,
            median_delay_days=_round(counted_percentile(delays, 0.5)),
            no_show_invitations=_rate(
                "Absences non excusées (invitations)",
                self.no_shows["invitation"],
                self.recorded["invitation"],
            ),
            no_show_convocations=_rate(
                "Absences non excusées (convocations)",
                self.no_shows["convocation"],
                self.recorded["convocation"],
            ),
            self_booked=_rate("Rendez-vous pris par la personne", self.self_booked, self.with_slot),
        )


# The delays of the first appointment attended after the orientation.
FIRST_APPOINTMENT_DAYS = (15, 30)
ATTENDANCE_RECORDED = frozenset({"attended", "absent_unexcused", "absent_excused"})


@dataclass(frozen=True)
class Thresholds:
    orientation_days: tuple[int, ...]
    contract_days: int
    kept_by: date


def exit_is_positive(reason: str, code: str | None, coded: dict[str, ExitCodeRead]) -> bool:
    """A coded exit is positive as its département's list says; a closing without a code
    (before coded exits, or by the platform) by its exit reason, as before."""
    if code and code in coded:
        return coded[code].positive
    return reason in POSITIVE_EXITS


def age_band(birth_date: date | None, on: date) -> str:
    """The FSE+ age bands (under 25, under 30, over 54), at the exit."""
    if birth_date is None:
        return ""
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age < 25:
        return "moins de 25 ans"
    if age < 30:
        return "25 à 29 ans"
    if age < 55:
        return "30 à 54 ans"
    return "55 ans et plus"


@dataclass(frozen=True)
class ExitLine:
    journey_id: str
    entered_on: date
    closed_on: date
    days: int
    orientation: str | None
    exit_code: str | None
    exit_label: str
    positive: bool
    age_band: str


@dataclass(frozen=True)
class ExitExport:
    territory: str
    year: int
    lines: list[ExitLine]


# The organisms a person is oriented to, as the comités read them (structure kinds).
ORGANISMS = {
    "france_travail": "France Travail",
    "departement": "Département",
    "cap_emploi": "Cap emploi",
    "mission_locale": "Mission locale",
    "autre": "Autre organisme",
}


@dataclass
class OrientationMonth:
    month: str
    new_rights: int = 0
    oriented: int = 0
    by_track: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_organism: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    within_deadline: int = 0
    by_france_travail: int = 0


@dataclass(frozen=True)
class OrientationReport:
    territory: str
    first: str
    last: str
    months: list[OrientationMonth]


class IndicatorService:
    def __init__(self, session: AsyncSession, settings: Settings, principal: Principal) -> None:
        self.session = session
        self.settings = settings
        self.principal = principal
        self.repo = IndicatorRepository(session)
        self.people = PeopleRepository(session)

    # --- Who sees what ---

    def territory_for(self, asked: str | None) -> str:
        """A manager reads their own département; an administrator any (their own first)."""
        p = self.principal
        if p.role is Role.MANAGER:
            if asked and asked != p.territory:
                raise Forbidden(
                    "Vous ne pouvez consulter que les indicateurs de votre département "
                    f"({p.territory})."
                )
            return p.territory
        if p.role is Role.ADMIN:
            return asked or p.territory
        raise Forbidden(
            "Les indicateurs sont réservés aux responsables de territoire et aux administrateurs."
        )

    async def territories(self) -> list[str]:
        if self.principal.role is Role.ADMIN:
            found = await self.repo.territories()
            return sorted({*found, self.principal.territory})
        return [self.principal.territory]

    async def structures(self, territory: str) -> list[PersonRef]:
        return [
            PersonRef(id=s.id, label=s.name) for s in await self.people.all_structures(territory)
        ]

    # --- Indicators ---

    async def scope(
        self, f: IndicatorFilter, today: date | None = None
    ) -> tuple[IndicatorScope, PersonRef | None, str, str]:
        today = today or local_day(datetime.now(UTC))
        territory = self.territory_for(f.territory)
        last = f.to_month or month_key(today)
        first = f.from_month or month_key(add_months(_first_day(last), -11))
        if first > last:
            raise InvalidReference("Le premier mois de la période doit précéder le dernier.")
        if len(_months(first, last)) > MAX_MONTHS:
            raise InvalidReference(f"La période est limitée à {MAX_MONTHS} mois.")
        structure = None
        if f.structure_id:
            found = await self.people.structure(f.structure_id)
            if found is None or found.territory != territory:
                raise InvalidReference("Cette structure n'est pas dans le département choisi.")
            structure = PersonRef(id=found.id, label=found.name)
        scope = IndicatorScope(
            territory=territory,
            start=_first_day(first),
            end=add_months(_first_day(last), 1),
            today=today,
            structure_id=structure.id if structure else None,
        )
        return scope, structure, first, last

    def thresholds(self, today: date) -> Thresholds:
        s = self.settings
        legal = s.orientation_weeks_after_rsa * 7
        return Thresholds(
            # 15 and 30 days, then the legal delay (6 weeks): always the last one.
            orientation_days=(*(d for d in (15, 30) if d != legal), legal),
            contract_days=s.contract_days_after_orientation,
            # Month 6 of follow-up is past, its check-in's grace too.
            kept_by=add_months(today, -6) - timedelta(days=s.check_in_grace_days),
        )

    async def read(self, f: IndicatorFilter, today: date | None = None) -> IndicatorsRead:
        scope, structure, first, last = await self.scope(f, today)
        t = self.thresholds(scope.today)
        cohort = await self.repo.cohort(scope, t.orientation_days)
        contracts = await self.repo.contracts(scope, t.contract_days)
        follow_ups = await self.repo.follow_ups(scope, t.kept_by)
        exits = await self.repo.exits(scope)
        delays = await self.repo.step_delays(scope)

        total = _Tally()
        by_month: dict[str, _Tally] = defaultdict(_Tally)
        by_structure: dict[str | None, _Tally] = defaultdict(_Tally)
        cohort_names = [
            "entered",
            "rsa",
            "diagnosed",
            "oriented",
            "contract",
            "employed",
            "followed",
            "kept",
            "france_travail",
            *(f"{kind}_{d}" for d in t.orientation_days for kind in ("within", "due")),
        ]
        groups: list[tuple[list[dict[str, Any]], list[str], str]] = [
            (cohort, cohort_names, "cohort_"),
            (contracts, ["oriented", "within", "due"], "contract_"),
            (follow_ups, ["followed", "kept", "due"], "follow_up_"),
        ]
        for rows, names, prefix in groups:
            for row in rows:
                for tally in (total, by_month[row["month"]], by_structure[row["structure_id"]]):
                    tally.add(row, names, prefix)
        exit_counts: dict[str, int] = defaultdict(int)
        code_counts: dict[str, int] = defaultdict(int)
        coded = await ExitCodeService(self.session).by_code(scope.territory)
        for row in exits:
            reason = row["exit_reason"] or ExitReason.OTHER.value
            positive = int(exit_is_positive(reason, row["exit_code"], coded)) * row["closed"]
            if row["counts_in"] != "structures":  # the period's figures: once per journey
                exit_counts[reason] += row["closed"]
                if row["exit_code"]:
                    code_counts[row["exit_code"]] += row["closed"]
            for tally in _counted_in(row, total, by_month, by_structure):
                tally.counts["exits"] += row["closed"]
                tally.counts["positive_exits"] += positive

        def figures(tally: _Tally) -> Figures:
            return Figures(
                entered=tally["cohort_entered"],
                rsa_openings=tally["cohort_rsa"],
                oriented_within=[
                    _rate(
                        f"Orientées {_days_label(d)}",
                        tally[f"cohort_within_{d}"],
                        tally[f"cohort_due_{d}"],
                    )
                    for d in t.orientation_days
                ],
                orientations=tally["contract_oriented"],
                contract_within=_rate(
                    f"Contrat signé {_days_label(t.contract_days, month=True)} après l'orientation",
                    tally["contract_within"],
                    tally["contract_due"],
                ),
                follow_up_kept=_rate(
                    "Suivi dans l'emploi maintenu à 6 mois",
                    tally["follow_up_kept"],
                    tally["follow_up_due"],
                ),
                exits=tally["exits"],
                positive_exits=tally["positive_exits"],
                oriented_by_france_travail=tally["cohort_france_travail"],
            )

        structure_names = {
            s.id: s.name
            for s in (await self.people.structures({i for i in by_structure if i})).values()
        }
        structures = [
            StructureFigures(
                structure=PersonRef(id=sid, label=structure_names.get(sid, sid)) if sid else None,
                label=structure_names.get(sid, sid) if sid else NO_STRUCTURE,
                figures=figures(tally),
            )
            for sid, tally in by_structure.items()
        ]
        structures.sort(key=lambda s: (s.structure is None, s.label.lower()))
        entered = total["cohort_entered"]
        funnel = [
            ("entered", "Entrées dans le parcours", entered),
            ("diagnosed", "Diagnostic commencé", total["cohort_diagnosed"]),
            ("oriented", "Orientation décidée", total["cohort_oriented"]),
            ("contract", "Contrat d'engagement signé", total["cohort_contract"]),
            ("employed", "Entrée en emploi", total["cohort_employed"]),
            ("followed", "Suivi dans l'emploi", total["cohort_followed"]),
            ("kept", "Emploi maintenu à 6 mois", total["cohort_kept"]),
        ]
        appointments = await self._appointments(scope, _months(first, last))
        return IndicatorsRead(
            appointments=appointments,
            territory=scope.territory,
            structure=structure,
            from_month=first,
            to_month=last,
            period_label=(
                month_label(first)
                if first == last
                else f"de {month_label(first)} à {month_label(last)}"
            ),
            computed_on=scope.today,
            total=figures(total),
            funnel=[
                FunnelStage(key=k, label=label, count=n, percent=_percent(n, entered))
                for k, label, n in funnel
            ],
            delays=[
                StepDelay(
                    step=step,
                    step_label=STEP_LABELS[step],
                    count=delays[step.value].count if step.value in delays else 0,
                    median_days=_round(delays[step.value].median_days)
                    if step.value in delays
                    else None,
                    p90_days=_round(delays[step.value].p90_days) if step.value in delays else None,
                )
                for step in MEASURED_STEPS
            ],
            exits=[
                ExitCount(
                    reason=reason.value,
                    label=EXIT_LABELS[reason],
                    positive=reason in POSITIVE_EXITS,
                    count=exit_counts.get(reason.value, 0),
                )
                for reason in ExitReason
            ],
            exit_codes=[
                ExitCodeCount(
                    code=c.code,
                    label=c.label,
                    positive=c.positive,
                    active=c.active,
                    count=code_counts.get(c.code, 0),
                )
                for c in coded.values()
                if c.active or code_counts.get(c.code)
            ],
            positive_exit_rate=_rate("Sorties positives", total["positive_exits"], total["exits"]),
            law=await self._law(scope),
            months=[
                MonthFigures(month=key, label=month_label(key), figures=figures(by_month[key]))
                for key in _months(first, last)
            ],
            structures=structures,
        )

    async def _law(self, scope: IndicatorScope) -> LawFigures:
        """The procedures' figures of the period, from their events."""
        rows = await self.repo.procedures(scope)
        kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            kinds[row["kind"]].append(row)
        reviews = kinds["social_review_concluded"]
        closed = {r["case_id"]: r["occurred_on"] for r in kinds["sanction_closed"] if r["case_id"]}
        opened = await self.repo.sanction_openings(sorted(closed))
        durations = [float((closed[case] - opened[case]).days) for case in closed if case in opened]
        return LawFigures(
            france_travail_requested=len(kinds["france_travail_orientation_requested"]),
            social_reviews_on_time=_rate(
                "Revues du parcours social conclues à temps",
                sum(1 for r in reviews if r["on_time"] is True),
                len(reviews),
            ),
            sanctions_opened=len(kinds["sanction_opened"]),
            sanctions_lifted_remobilisation=sum(
                1 for r in kinds["sanction_lifted"] if r["reason"] == REMOBILISATION
            ),
            sanctions_closed=len(closed),
            sanction_median_days=_round(percentile(durations, 0.5)),
        )

    # --- Exports for the annual and monthly reports (issue 15) ---

    async def exit_lines(self, territory: str | None, year: int) -> ExitExport:
        """The FSE+ and PDI annual reports' exits: one line per journey closed in ``year``."""
        if not 2000 <= year <= 2100:
            raise InvalidReference("L'année s'écrit sur quatre chiffres, par exemple 2025.")
        territory = self.territory_for(territory)
        coded = await ExitCodeService(self.session).by_code(territory)
        rows = await self.repo.exit_lines(territory, date(year, 1, 1), date(year + 1, 1, 1))
        lines = []
        for row in rows:
            reason = row["exit_reason"] or ExitReason.OTHER.value
            code = coded.get(row["exit_code"]) if row["exit_code"] else None
            lines.append(
                ExitLine(
                    journey_id=row["journey_id"],
                    entered_on=row["reference_on"],
                    closed_on=row["closed_on"],
                    days=(row["closed_on"] - row["reference_on"]).days,
                    orientation=row["orientation"],
                    exit_code=row["exit_code"],
                    exit_label=code.label
                    if code
                    else (row["exit_code"] or EXIT_LABELS[ExitReason(reason)]),
                    positive=exit_is_positive(reason, row["exit_code"], coded),
                    age_band=age_band(row["birth_date"], row["closed_on"]),
                )
            )
        return ExitExport(territory=territory, year=year, lines=lines)

    async def orientation_months(
        self, f: IndicatorFilter, today: date | None = None
    ) -> OrientationReport:
        """The comités pour l'emploi's orientation figures, month by month."""
        scope, _, first, last = await self.scope(f, today)
        legal_days = self.settings.orientation_weeks_after_rsa * 7
        months = {key: OrientationMonth(month=key) for key in _months(first, last)}
        for row in await self.repo.orientation_data(scope):
            opened = row["rsa_opened_on"]
            if opened and month_key(opened) in months and row["subject_to_duties"] is not False:
                months[month_key(opened)].new_rights += 1
            oriented = row["oriented_on"]
            if not oriented or month_key(oriented) not in months:
                continue
            m = months[month_key(oriented)]
            m.oriented += 1
            m.by_track[row["orientation"] or ""] += 1
            kind = row["structure_kind"]
            m.by_organism[kind if kind in ORGANISMS else "autre"] += 1
            clock = row["transferred_in_on"] or opened
            if clock is not None and oriented <= clock + timedelta(days=legal_days):
                m.within_deadline += 1
            if row["oriented_by"] == FRANCE_TRAVAIL:
                m.by_france_travail += 1
        return OrientationReport(
            territory=scope.territory, first=first, last=last, months=list(months.values())
        )

    async def _appointments(
        self, scope: IndicatorScope, months: list[str]
    ) -> AppointmentIndicators:
        """First appointments after the orientation (by month of orientation and structure
        that follows), no-shows and self-booking (by month of the slot and structure that
        receives)."""
        start = datetime.combine(scope.start, datetime.min.time(), PARIS).astimezone(UTC)
        end = datetime.combine(scope.end, datetime.min.time(), PARIS).astimezone(UTC)
        firsts = await self.repo.first_appointments(scope, FIRST_APPOINTMENT_DAYS)
        held = await self.repo.appointments(scope, start, end)
        total = _AppointmentTally()
        by_month: dict[str, _AppointmentTally] = defaultdict(_AppointmentTally)
        by_structure: dict[str | None, _AppointmentTally] = defaultdict(_AppointmentTally)

        overdue = [(days, f"overdue_{days}") for days in FIRST_APPOINTMENT_DAYS]
        for row in firsts:
            # What the row adds, worked out once for the tallies it counts in.
            people, delay = int(row["oriented"]), row["delay"]
            met = [(days, delay is not None and delay <= days, key) for days, key in overdue]
            within = [(days, people if hit else 0) for days, hit, _ in met]
            due = [(days, people if hit else int(row[key])) for days, hit, key in met]
            for t in _counted_in(row, total, by_month, by_structure):
                t.oriented += people
                if delay is not None:
                    t.delays[int(delay)] += people
                for days, count in within:
                    t.within[days] += count
                for days, count in due:
                    t.due[days] += count
        for row in held:
            count = int(row["held"])
            for t in _counted_in(row, total, by_month, by_structure):
                t.with_slot += count
                t.self_booked += count if row["mode"] == "invitation" else 0
                if row["status"] in ATTENDANCE_RECORDED:
                    t.recorded[row["mode"]] += count
                    t.no_shows[row["mode"]] += count if row["status"] == "absent_unexcused" else 0
        names = {
            s.id: s.name
            for s in (await self.people.structures({i for i in by_structure if i})).values()
        }
        structures = [
            AppointmentStructure(
                structure=PersonRef(id=sid, label=names.get(sid, sid)) if sid else None,
                label=names.get(sid, sid) if sid else NO_STRUCTURE,
                figures=tally.figures(),
            )
            for sid, tally in by_structure.items()
        ]
        structures.sort(key=lambda s: (s.structure is None, s.label.lower()))
        return AppointmentIndicators(
            total=total.figures(),
            months=[
                AppointmentMonth(month=key, label=month_label(key), figures=by_month[key].figures())
                for key in months
            ],
            structures=structures,
        )


class JourneyStoryService:
    """A journey's full story, for the managers of its département."""

    def __init__(
        self, session: AsyncSession, temporal: Client, settings: Settings, principal: Principal
    ) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.principal = principal
        self.repo = IndicatorRepository(session)
        self.people = PeopleRepository(session)

    async def story(self, beneficiary_id: str) -> JourneyStory:
        """For managers of the journey's département (anyone else: not found / forbidden)."""
        if self.principal.role is not Role.MANAGER:
            raise Forbidden("L'histoire complète d'un parcours est réservée aux responsables.")
        carnet = await CarnetService(
            self.session, self.temporal, self.settings, self.principal
        ).read(beneficiary_id, "journey.story")
        spans = await self.repo.spans(carnet.journey.journey_id)
        structures = await self.people.structures({s.structure_id for s in spans if s.structure_id})
        now = datetime.now(UTC)
        stays = []
        for span in spans:
            step = Step(span.step)
            days = stay_days(step, span.entered_at, span.left_at, now)
            where = structures.get(span.structure_id) if span.structure_id else None
            stays.append(
                StepStay(
                    step=step,
                    step_label=STEP_LABELS[step],
                    entered_at=span.entered_at,
                    left_at=span.left_at,
                    days=round(days, 1),
                    structure=PersonRef(id=where.id, label=where.name) if where else None,
                )
            )
        person = carnet.beneficiary
        s = self.settings
        return JourneyStory(
            beneficiary_id=beneficiary_id,
            full_name=person_name(person.first_name, person.last_name),
            journey=carnet.journey,
            referent=carnet.referent,
            structure=carnet.structure,
            stays=stays,
            time_in_steps=[
                StepTotal(step=step, step_label=STEP_LABELS[step], days=round(days, 1))
                for step, days in days_per_step(
                    ((Step(s.step), s.entered_at, s.left_at) for s in spans), now
                ).items()
            ],
            timeline=sorted(carnet.timeline, key=lambda entry: entry.at),
            workflow_url=(
                f"{s.temporal_ui_url.rstrip('/')}/namespaces/{s.temporal_namespace}"
                f"/workflows/{carnet.journey.workflow_id}"
            ),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- CSV export: French headers, ";" and a UTF-8 BOM (what Excel expects in France) ---

TABLES = {
    "mois": "Indicateurs par mois",
    "structures": "Indicateurs par structure",
    "etapes": "Temps passé par étape",
    "entonnoir": "Entonnoir du parcours",
    "sorties": "Sorties par motif",
    "rendez-vous": "Rendez-vous par mois",
    "rendez-vous-structures": "Rendez-vous par structure",
    "sorties-codees": "Sorties par motif du département",
    "loi-plein-emploi": "Procédures de la loi pour le plein emploi",
}

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def _figure_headers(read: IndicatorsRead) -> list[str]:
    total = read.total
    return [
        "Entrées (RSA ouvert ou parcours commencé)",
        "Ouvertures de droits RSA",
        *(f"{r.label} (%)" for r in total.oriented_within),
        "Orientations décidées",
        f"{total.contract_within.label} (%)",
        "Sorties",
        "Sorties positives",
        f"{total.follow_up_kept.label} (%)",
    ]


def _figure_cells(f: Figures) -> list[Cell]:
    return [
        f.entered,
        f.rsa_openings,
        *(r.percent for r in f.oriented_within),
        f.orientations,
        f.contract_within.percent,
        f.exits,
        f.positive_exits,
        f.follow_up_kept.percent,
    ]


def _appointment_headers(read: IndicatorsRead) -> list[str]:
    total = read.appointments.total
    return [
        "Personnes orientées",
        *(f"{r.label} (%)" for r in total.first_attended_within),
        "Délai moyen du 1er rendez-vous (jours)",
        "Délai médian du 1er rendez-vous (jours)",
        f"{total.no_show_invitations.label} (%)",
        f"{total.no_show_convocations.label} (%)",
        f"{total.self_booked.label} (%)",
    ]


def _appointment_cells(f: AppointmentFigures) -> list[Cell]:
    return [
        f.oriented,
        *(r.percent for r in f.first_attended_within),
        f.mean_delay_days,
        f.median_delay_days,
        f.no_show_invitations.percent,
        f.no_show_convocations.percent,
        f.self_booked.percent,
    ]


def table(read: IndicatorsRead, name: str) -> Table:
    """One of the indicators' tables (``TABLES``), as the page shows it and CSV exports it."""
    match name:
        case "mois":
            return Table(
                TABLES[name],
                ["Mois", *_figure_headers(read)],
                [[m.label, *_figure_cells(m.figures)] for m in read.months]
                + [["Total de la période", *_figure_cells(read.total)]],
            )
        case "structures":
            return Table(
                TABLES[name],
                ["Structure", *_figure_headers(read)],
                [[s.label, *_figure_cells(s.figures)] for s in read.structures],
            )
        case "etapes":
            return Table(
                TABLES[name],
                ["Étape", "Séjours terminés", "Durée médiane (jours)", "90e centile (jours)"],
                [[d.step_label, d.count, d.median_days, d.p90_days] for d in read.delays],
            )
        case "entonnoir":
            return Table(
                TABLES[name],
                ["Étape du parcours", "Personnes", "Part des entrées (%)"],
                [[s.label, s.count, s.percent] for s in read.funnel],
            )
        case "rendez-vous":
            return Table(
                TABLES[name],
                ["Mois", *_appointment_headers(read)],
                [[m.label, *_appointment_cells(m.figures)] for m in read.appointments.months]
                + [["Total de la période", *_appointment_cells(read.appointments.total)]],
            )
        case "rendez-vous-structures":
            return Table(
                TABLES[name],
                ["Structure", *_appointment_headers(read)],
                [[s.label, *_appointment_cells(s.figures)] for s in read.appointments.structures],
            )
        case "sorties":
            closed = sum(e.count for e in read.exits)
            return Table(
                TABLES[name],
                ["Motif de sortie", "Sortie positive", "Parcours clôturés", "Part (%)"],
                [
                    [e.label, "oui" if e.positive else "non", e.count, _percent(e.count, closed)]
                    for e in read.exits
                ],
            )
        case "sorties-codees":
            closed = sum(e.count for e in read.exit_codes)
            return Table(
                TABLES[name],
                ["Code", "Motif de sortie", "Sortie positive", "Parcours clôturés", "Part (%)"],
                [
                    [
                        e.code,
                        e.label if e.active else f"{e.label} (plus proposé)",
                        "oui" if e.positive else "non",
                        e.count,
                        _percent(e.count, closed),
                    ]
                    for e in read.exit_codes
                ],
            )
        case "loi-plein-emploi":
            law, total = read.law, read.total
            legal = total.oriented_within[-1] if total.oriented_within else None
            rows: list[list[Cell]] = []
            if legal is not None:
                rows.append([legal.label, legal.numerator, legal.denominator, legal.percent])
            rows += [
                [
                    "Orientées par France Travail après le délai",
                    total.oriented_by_france_travail,
                    None,
                    None,
                ],
                [
                    total.contract_within.label,
                    total.contract_within.numerator,
                    total.contract_within.denominator,
                    total.contract_within.percent,
                ],
            ]
            if law is not None:
                reviews = law.social_reviews_on_time
                rows += [
                    [
                        "Orientations demandées à France Travail (délai dépassé)",
                        law.france_travail_requested,
                        None,
                        None,
                    ],
                    [reviews.label, reviews.numerator, reviews.denominator, reviews.percent],
                    [
                        "Procédures de suspension-remobilisation ouvertes",
                        law.sanctions_opened,
                        None,
                        None,
                    ],
                    [
                        "Suspensions levées par la remobilisation",
                        law.sanctions_lifted_remobilisation,
                        None,
                        None,
                    ],
                    ["Procédures closes", law.sanctions_closed, None, None],
                    [
                        "Durée médiane d'une procédure close (jours)",
                        law.sanction_median_days,
                        None,
                        None,
                    ],
                ]
            return Table(
                TABLES[name],
                ["Indicateur", "Nombre", "Sur", "Part (%)"],
                rows,
            )
    raise InvalidReference(
        "Tableau inconnu : choisissez parmi " + ", ".join(f"« {k} »" for k in TABLES) + "."
    )


def french_number(value: Cell) -> str:
    """A cell as people read it in France: decimal comma, nothing for "no figure"."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def to_csv(read: IndicatorsRead, name: str) -> str:
    """The table as CSV text, with a byte-order mark first so Excel reads UTF-8."""
    t = table(read, name)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(t.headers)
    writer.writerows([french_number(cell) for cell in row] for row in t.rows)
    return "\ufeff" + out.getvalue()


def csv_filename(read: IndicatorsRead, name: str) -> str:
    return f"indicateurs-{read.territory}-{name}-{read.from_month}-{read.to_month}.csv"


def _csv_text(headers: list[str], rows: Iterable[list[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([french_number(cell) for cell in row] for row in rows)
    return "\ufeff" + out.getvalue()


# --- The FSE+ and PDI annual reports' exits (docs/sorties-fse-pdi.md) ---

EXIT_HEADERS = [
    "Parcours",
    "Date d'entrée",
    "Date de sortie",
    "Durée (jours)",
    "Parcours d'orientation",
    "Code de sortie",
    "Motif de sortie",
    "Sortie positive",
    "Tranche d'âge à la sortie",
]


def _track_label(value: str | None) -> str:
    if value is None:
        return ""
    try:
        return ORIENTATION_LABELS[OrientationKind(value)]
    except ValueError:
        return value or ""


def exits_csv(export: ExitExport) -> str:
    return _csv_text(
        EXIT_HEADERS,
        (
            [
                line.journey_id,
                line.entered_on.isoformat(),
                line.closed_on.isoformat(),
                line.days,
                _track_label(line.orientation),
                line.exit_code or "",
                line.exit_label,
                "oui" if line.positive else "non",
                line.age_band,
            ]
            for line in export.lines
        ),
    )


def exits_filename(export: ExitExport) -> str:
    return f"sorties-{export.territory}-{export.year}.csv"


# --- The comités pour l'emploi's orientation data (docs/comites-pour-l-emploi.md) ---

TRACKS = {
    OrientationKind.PROFESSIONAL.value: "professionnel",
    OrientationKind.SOCIO_PROFESSIONAL.value: "socioprofessionnel",
    OrientationKind.SOCIAL.value: "social",
}
ORIENTATION_HEADERS = [
    "Mois",
    "Département",
    "Nouveaux droits RSA soumis aux droits et devoirs",
    "Personnes orientées",
    *(f"dont parcours {label}" for label in TRACKS.values()),
    *(f"dont vers {label}" for label in ORGANISMS.values()),
    "dont orientées dans le délai de 6 semaines",
    "dont orientées par France Travail après le délai",
]


def orientation_csv(report: OrientationReport) -> str:
    return _csv_text(
        ORIENTATION_HEADERS,
        (
            [
                m.month,
                report.territory,
                m.new_rights,
                m.oriented,
                *(m.by_track.get(track, 0) for track in TRACKS),
                *(m.by_organism.get(kind, 0) for kind in ORGANISMS),
                m.within_deadline,
                m.by_france_travail,
            ]
            for m in report.months
        ),
    )


def orientation_filename(report: OrientationReport) -> str:
    return f"comites-emploi-{report.territory}-{report.first}-{report.last}.csv"


KEEPER_ID = "parcours-indicators"


async def keep_closed_months(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    months: int = 24,
    today: date | None = None,
) -> list[str]:
    """Reads each département's indicators over its last ``months`` months, each in its own
    transaction, so that what their closed months count is kept (``closed_months``) before a
    manager asks: the first read after a month closes, or after the migration that keeps a
    figure, counts and keeps every month not kept yet (0.2 s for most départements, 0.8 s for
    the largest, measured). The départements read; none on SQLite, which keeps nothing."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return []
        territories = await IndicatorRepository(session).territories()
    today = today or datetime.now(UTC).astimezone(PARIS).date()
    period = IndicatorFilter(
        from_month=month_key(add_months(today, -(min(months, MAX_MONTHS) - 1))),
        to_month=month_key(today),
    )
    for territory in territories:
        # The platform reads as the département's manager would (no one signed in).
        platform = Principal(id=KEEPER_ID, role=Role.MANAGER, full_name="", territory=territory)
        async with sessions() as session:
            await IndicatorService(session, settings, platform).read(period, today=today)
            await session.commit()
    return territories
