"""SQL of the console's own tables: interventions, partner incidents, digests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import User
from parcours.carnet.models import Beneficiary
from parcours.core.db import UTCDateTime, utcnow
from parcours.journey.messages import Step
from parcours.journey.models import JourneyRecord
from parcours.management.models import Digest, JourneyIntervention, PartnerIncident
from parcours.management.schemas import StallCause, StalledFilter
from parcours.orientations.messages import FINAL_STATUSES
from parcours.orientations.models import ServiceOrientationRecord
from parcours.training_requests.models import TrainingRequestRecord


@dataclass(frozen=True)
class FailedCall:
    """One failed attempt of a partner call, as the activity knows it (ids only)."""

    workflow_id: str
    run_id: str
    activity_id: str
    activity_type: str
    partner: str
    beneficiary_id: str | None
    attempt: int
    since: datetime
    failure: str


# Built once: each page of the stalled list reads them for its fifty journeys.
_INTERVENTIONS_OF = (
    select(JourneyIntervention)
    .where(JourneyIntervention.beneficiary_id.in_(bindparam("ids", expanding=True)))
    .order_by(JourneyIntervention.created_at)
)
# A line of a list names its person, nothing more: no address, NIR or household read into the
# process, nor their JSON decoded (the stalled list's page of 50, serially: ≈ 1.5 ms of CPU
# less, of ≈ 9).
_JOURNEYS_WITH_PEOPLE = (
    select(JourneyRecord, Beneficiary.first_name, Beneficiary.last_name, Beneficiary.birth_date)
    .join(Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id)
    .where(JourneyRecord.beneficiary_id.in_(bindparam("ids", expanding=True)))
)


class PersonNamed(NamedTuple):
    """Who a journey of a list is about, as the list names them."""

    first_name: str
    last_name: str
    birth_date: date


class InterventionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, intervention: JourneyIntervention) -> None:
        self.session.add(intervention)

    async def of_journey(self, beneficiary_id: str) -> Sequence[JourneyIntervention]:
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(JourneyIntervention.beneficiary_id == beneficiary_id)
            .order_by(JourneyIntervention.created_at.desc())
        )
        return rows.all()

    async def latest_of(self, ids: Sequence[str]) -> dict[str, JourneyIntervention]:
        if not ids:
            return {}
        rows = await self.session.scalars(_INTERVENTIONS_OF, {"ids": list(ids)})
        return {i.beneficiary_id: i for i in rows}  # the last one wins

    async def addressed_to(
        self, user_id: str, structure_id: str | None, after: datetime, limit: int = 100
    ) -> Sequence[JourneyIntervention]:
        """Reminders to this user, escalations to their structure, most recent first."""
        addressed = JourneyIntervention.target_user_id == user_id
        if structure_id:
            addressed = or_(addressed, JourneyIntervention.target_structure_id == structure_id)
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(addressed, JourneyIntervention.created_at > after)
            .order_by(JourneyIntervention.created_at.desc())
            .limit(limit)
        )
        return rows.all()

    async def of_ids(self, ids: Sequence[str]) -> Sequence[JourneyIntervention]:
        if not ids:
            return []
        rows = await self.session.scalars(
            select(JourneyIntervention).where(JourneyIntervention.id.in_(ids))
        )
        return rows.all()

    async def escalations_to(
        self, structure_id: str, after: datetime, until: datetime
    ) -> Sequence[JourneyIntervention]:
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(
                JourneyIntervention.target_structure_id == structure_id,
                JourneyIntervention.kind == "escalation",
                JourneyIntervention.created_at > after,
                JourneyIntervention.created_at <= until,
            )
            .order_by(JourneyIntervention.created_at)
        )
        return rows.all()

    async def erase_bodies(self, beneficiary_id: str) -> None:
        """What managers wrote about a person goes with their carnet (who did what stays)."""
        rows = await self.session.scalars(
            select(JourneyIntervention).where(
                JourneyIntervention.beneficiary_id == beneficiary_id,
                JourneyIntervention.body.is_not(None),
            )
        )
        for intervention in rows:
            intervention.body = None


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, incident_id: int) -> PartnerIncident | None:
        return await self.session.get(PartnerIncident, incident_id)

    async def of_call(self, workflow_id: str, run_id: str, activity_id: str) -> int | None:
        """The open incident of this call, if any (its id)."""
        found: int | None = await self.session.scalar(
            select(PartnerIncident.id).where(
                PartnerIncident.workflow_id == workflow_id,
                PartnerIncident.run_id == run_id,
                PartnerIncident.activity_id == activity_id,
            )
        )
        return found

    async def record_failure(self, call: FailedCall, *, known: int | None) -> None:
        """Open the incident (``known`` None) or count one more failure on it."""
        incident = await self.session.get(PartnerIncident, known) if known is not None else None
        now = utcnow()
        if incident is None:
            self.session.add(
                PartnerIncident(
                    workflow_id=call.workflow_id,
                    run_id=call.run_id,
                    activity_id=call.activity_id,
                    activity_type=call.activity_type,
                    partner=call.partner,
                    beneficiary_id=call.beneficiary_id,
                    attempts=call.attempt,
                    last_failure=call.failure[:1000],
                    since=call.since,
                    updated_at=now,
                )
            )
            return
        incident.attempts += 1
        incident.last_failure = call.failure[:1000]
        incident.updated_at = now

    async def close(self, incident_id: int) -> None:
        await self.session.execute(delete(PartnerIncident).where(PartnerIncident.id == incident_id))

    async def of_people(self, ids: Sequence[str]) -> dict[str, list[PartnerIncident]]:
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(PartnerIncident)
            .where(PartnerIncident.beneficiary_id.in_(ids))
            .order_by(PartnerIncident.since)
        )
        found: dict[str, list[PartnerIncident]] = defaultdict(list)
        for incident in rows:
            assert incident.beneficiary_id is not None
            found[incident.beneficiary_id].append(incident)
        return found


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, digest: Digest) -> None:
        self.session.add(digest)

    async def recipients(self) -> Sequence[User]:
        """Managers, chargés d'orientation, and administrators of a structure: those who get
        a daily digest."""
        rows = await self.session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                or_(
                    User.role.in_(("manager", "orientation")),
                    (User.role == "admin") & User.structure_id.is_not(None),
                ),
            )
            .order_by(User.id)
        )
        return rows.all()

    async def on(self, recipient_id: str, day: date) -> Digest | None:
        found: Digest | None = await self.session.scalar(
            select(Digest).where(Digest.recipient_id == recipient_id, Digest.day == day)
        )
        return found

    async def last_before(self, recipient_id: str, day: date) -> Digest | None:
        found: Digest | None = await self.session.scalar(
            select(Digest)
            .where(Digest.recipient_id == recipient_id, Digest.day < day)
            .order_by(Digest.day.desc())
            .limit(1)
        )
        return found

    async def of_recipient(self, recipient_id: str, limit: int = 7) -> Sequence[Digest]:
        rows = await self.session.scalars(
            select(Digest)
            .where(Digest.recipient_id == recipient_id)
            .order_by(Digest.day.desc())
            .limit(limit)
        )
        return rows.all()

    async def unsent_ids(self, day: date) -> list[str]:
        rows = await self.session.scalars(
            select(Digest.id).where(Digest.day == day, Digest.sent_at.is_(None)).order_by(Digest.id)
        )
        return list(rows)

    async def get(self, digest_id: str) -> Digest | None:
        return await self.session.get(Digest, digest_id)


# Training requests that wait on their funder (the others are decided, or on their way).
WAITING_TRAINING_STATUSES = ("submitted", "more_info_requested")


_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


CAUSE_COLUMNS = {
    StallCause.DEADLINE: "deadline_since",
    StallCause.INACTIVE: "inactive_since",
    StallCause.REQUEST: "request_since",
    StallCause.INCIDENT: "incident_since",
}


@dataclass(frozen=True)
class StalledRow:
    beneficiary_id: str
    since: datetime
    causes: dict[StallCause, datetime]


def _moment(value: Any) -> ColumnElement[datetime]:
    return type_coerce(value, UTCDateTime())


def _plus_days(dialect: str, column: Any, days: int) -> ColumnElement[datetime]:
    if dialect == "sqlite":
        # Stored as text: SQLite's own date arithmetic, in the same format.
        return _moment(func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{days} days"))
    return _moment(column + func.make_interval(0, 0, 0, days))


def _earliest(dialect: str, *moments: ColumnElement[datetime]) -> ColumnElement[datetime]:
    """The earliest of the moments that are set (NULL when none is)."""
    if dialect == "postgresql":
        return _moment(func.least(*moments))
    never = literal(_NEVER, UTCDateTime())
    first = func.min(*(func.coalesce(m, never) for m in moments))
    return _moment(func.nullif(first, never))


@dataclass(frozen=True)
class _Shape:
    """Which of a filter's fields are set: what the statement's conditions are, not their
    values (bound at each read). The stalled list is built once per shape: building it cost
    as much Python as the rest of the page (profiled on 100,000 journeys)."""

    managed_territory: bool = False
    territory: bool = False
    structure_id: bool = False
    referent_id: bool = False
    step: bool = False
    min_overdue_days: bool = False
    stalled_after: bool = False
    beneficiary_id: bool = False

    @classmethod
    def of(cls, f: StalledFilter) -> _Shape:
        return cls(
            managed_territory=f.managed_territory is not None,
            territory=bool(f.territory),
            structure_id=bool(f.structure_id),
            referent_id=bool(f.referent_id),
            step=bool(f.step),
            min_overdue_days=bool(f.min_overdue_days),
            stalled_after=f.stalled_after is not None,
        )


def _params(
    f: StalledFilter,
    now: datetime,
    inactive_days: int,
    *,
    beneficiary_id: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """The values a statement of ``f``'s shape binds."""
    params: dict[str, Any] = {
        "now": now,
        "cutoff": now - timedelta(days=inactive_days),
        "beneficiary_id": beneficiary_id,
        "managed_territory": f.managed_territory,
        "territory": f.territory,
        "structure_id": f.structure_id,
        "referent_id": f.referent_id,
        "step": f.step,
        "overdue_by": now - timedelta(days=f.min_overdue_days or 0),
        "stalled_after": f.stalled_after,
        "limit": limit,
        "offset": offset,
    }
    return params


_NOW = bindparam("now", type_=UTCDateTime())
_CUTOFF = bindparam("cutoff", type_=UTCDateTime())


@cache
def _stalled(dialect: str, inactive_days: int, shape: _Shape) -> CTE:
    """The stalled journeys a filter of that shape keeps (the cause filter aside), each with
    each cause's since (or NULL) and the earliest as ``since``: worked out once per query (a
    CTE that PostgreSQL materialises), however many times the query reads it.

    Only the candidates are looked at: open journeys whose step is late, or untouched
    since the inactivity cutoff, or with a request or an incident. On PostgreSQL the
    journeys come from ``ix_journeys_open`` alone (open journeys by territory, with every
    column read here, the carnet's last change included): an index-only scan of the
    département's open journeys, no table page read."""
    j = JourneyRecord
    incidents = (
        select(
            PartnerIncident.beneficiary_id.label("beneficiary_id"),
            func.min(PartnerIncident.since).label("since"),
        )
        .where(PartnerIncident.beneficiary_id.is_not(None))
        .group_by(PartnerIncident.beneficiary_id)
        .subquery("incidents")
    )
    training, orientation = TrainingRequestRecord, ServiceOrientationRecord
    waiting = union_all(
        select(training.beneficiary_id, training.stalled_since.label("since")).where(
            training.stalled_since.is_not(None),
            training.status.in_(WAITING_TRAINING_STATUSES),
        ),
        select(orientation.beneficiary_id, orientation.reminded_at.label("since")).where(
            orientation.reminded_at.is_not(None),
            orientation.answered_at.is_(None),
            orientation.status.not_in([s.value for s in FINAL_STATUSES]),
        ),
    ).subquery("waiting")
    requests = (
        select(
            waiting.c.beneficiary_id.label("beneficiary_id"),
            func.min(waiting.c.since).label("since"),
        )
        .group_by(waiting.c.beneficiary_id)
        .subquery("requests")
    )
    deadline_hit = and_(
        j.paused.is_(False),
        j.deadline.is_not(None),
        or_(j.stalled.is_(True), j.deadline < _NOW),
    )
    untouched = and_(j.paused.is_(False), j.updated_at < _CUTOFF)
    # The carnet's last change, kept on the journey's row by the access log's trigger.
    inactive_hit = and_(
        untouched, or_(j.carnet_changed_at.is_(None), j.carnet_changed_at < _CUTOFF)
    )
    causes = (
        select(
            j.beneficiary_id.label("beneficiary_id"),
            _moment(case((deadline_hit, j.deadline), else_=null())).label("deadline_since"),
            _moment(
                case(
                    (inactive_hit, _plus_days(dialect, j.updated_at, inactive_days)),
                    else_=null(),
                )
            ).label("inactive_since"),
            _moment(requests.c.since).label("request_since"),
            _moment(incidents.c.since).label("incident_since"),
        )
        .outerjoin(requests, requests.c.beneficiary_id == j.beneficiary_id)
        .outerjoin(incidents, incidents.c.beneficiary_id == j.beneficiary_id)
        .where(
            # Inline: the condition of the partial index ``ix_journeys_open``.
            j.step != literal_column(f"'{Step.CLOSED.value}'"),
            # The candidates: a journey with none of these has no cause.
            or_(
                deadline_hit,
                untouched,
                requests.c.since.is_not(None),
                incidents.c.since.is_not(None),
            ),
        )
    )
    # Each field set in the filter, equal to its bound value.
    equal_to = {
        "beneficiary_id": j.beneficiary_id,
        "managed_territory": j.territory,
        "territory": j.territory,
        "structure_id": j.structure_id,
        "referent_id": j.referent_id,
        "step": j.step,
    }
    for name, column in equal_to.items():
        if getattr(shape, name):
            causes = causes.where(column == bindparam(name, type_=String()))
    # OFFSET 0: each row's causes are computed once, not once more inside ``since``.
    found = causes.offset(0).subquery("causes")
    since = _earliest(dialect, *(found.c[column] for column in CAUSE_COLUMNS.values()))
    conditions: list[ColumnElement[bool]] = [since.is_not(None)]
    if shape.min_overdue_days:
        conditions.append(since <= bindparam("overdue_by", type_=UTCDateTime()))
    if shape.stalled_after:
        conditions.append(since > bindparam("stalled_after", type_=UTCDateTime()))
    return (
        select(found, since.label("since"))
        .where(*conditions)
        .cte("stalled")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


@cache
def _page_query(
    dialect: str, inactive_days: int, shape: _Shape, cause: StallCause | None
) -> Select[Any]:
    stalled = _stalled(dialect, inactive_days, shape)
    # COUNT(column) counts the rows where it is set: with a cause filter, those that
    # have the cause (portable: no FILTER clause needed).
    kept = stalled.c[CAUSE_COLUMNS[cause]] if cause else None
    counts = select(
        (func.count(kept) if kept is not None else func.count()).label("total"),
        *(
            func.count(stalled.c[column]).label(f"{c.value}_count")
            for c, column in CAUSE_COLUMNS.items()
        ),
    ).subquery("counts")
    listing = select(stalled)
    if kept is not None:
        listing = listing.where(kept.is_not(None))
    listed = (
        listing.order_by(stalled.c.since, stalled.c.beneficiary_id)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
        .subquery("listed")
    )
    return (
        select(counts, listed)
        .select_from(counts.outerjoin(listed, true()))
        .order_by(listed.c.since, listed.c.beneficiary_id)
    )


@cache
def _one_query(dialect: str, inactive_days: int) -> Select[Any]:
    return select(_stalled(dialect, inactive_days, _Shape(beneficiary_id=True)))


class StalledRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def page(
        self,
        f: StalledFilter,
        *,
        now: datetime,
        inactive_days: int,
        limit: int = 25,
        offset: int = 0,
    ) -> tuple[list[StalledRow], int, dict[StallCause, int]]:
        """A page of stalled journeys (the most overdue first), how many the filter keeps, and
        how many have each cause (whatever the cause filter).

        One statement: the stalled journeys are worked out once; the counts (one row) are
        joined to the page, so that an empty page still brings them."""
        query = _page_query(self._dialect, inactive_days, _Shape.of(f), f.cause)
        params = _params(f, now, inactive_days, limit=limit, offset=offset)
        rows = (await self.session.execute(query, params)).mappings().all()
        first = rows[0]
        counted = {cause: int(first[f"{cause.value}_count"]) for cause in CAUSE_COLUMNS}
        items = [_row(r) for r in rows if r["beneficiary_id"] is not None]
        return items, int(first["total"]), counted

    async def one(
        self, beneficiary_id: str, *, now: datetime, inactive_days: int
    ) -> StalledRow | None:
        """One journey's causes (None when it is not stalled)."""
        f = StalledFilter()
        query = _one_query(self._dialect, inactive_days)
        params = _params(f, now, inactive_days, beneficiary_id=beneficiary_id)
        found = (await self.session.execute(query, params)).mappings().first()
        return _row(found) if found else None

    async def journeys_with_people(
        self, ids: Sequence[str]
    ) -> dict[str, tuple[JourneyRecord, PersonNamed]]:
        rows = await self.session.execute(_JOURNEYS_WITH_PEOPLE, {"ids": list(ids)})
        return {
            journey.beneficiary_id: (journey, PersonNamed(first, last, born))
            for journey, first, last, born in rows.all()
        }

    async def waiting_for_referent(
        self,
        *,
        before: datetime,
        territory: str | None = None,
        structure_id: str | None = None,
        limit: int = 100,
    ) -> tuple[Sequence[JourneyRecord], int]:
        """Open journeys with no référent, started before ``before`` (the longest wait first)."""
        j = JourneyRecord
        query = select(j).where(
            j.step != Step.CLOSED.value, j.referent_id.is_(None), j.started_at <= before
        )
        if territory:
            query = query.where(j.territory == territory)
        if structure_id:
            query = query.where(j.structure_id == structure_id)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(j.started_at).limit(limit))
        return rows.all(), total or 0


def _row(found: Any) -> StalledRow:
    return StalledRow(
        beneficiary_id=found["beneficiary_id"],
        since=found["since"],
        causes={
            cause: found[column]
            for cause, column in CAUSE_COLUMNS.items()
            if found[column] is not None
        },
    )
