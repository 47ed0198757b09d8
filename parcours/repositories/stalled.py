"""Stalled journeys, read from the read model in one pass per question.

A journey still open is stalled when at least one cause holds; each cause has a *since*:

- ``deadline``: its step is past its deadline (since the deadline; paused journeys wait on
  purpose and are left out);
- ``inactive``: no event of the journey for ``inactive_days`` and no change to the carnet in
  that time (since the last event plus ``inactive_days``);
- ``request``: a training request waits on its funder past its deadline (the
  ``TrainingRequest`` workflow sets ``stalled_since``), or a structure was reminded of an
  orientation it has not answered (since the reminder);
- ``incident``: a partner call keeps failing (since the call was first scheduled).

The journey is stalled since its earliest cause; lists sort by that, the most overdue first.
Requests and incidents are few: they are grouped by person once and joined, never looked up
row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Subquery,
    and_,
    case,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.db import UTCDateTime
from parcours.journey.steps import Step
from parcours.management.models import PartnerIncident
from parcours.management.schemas import StallCause
from parcours.models import AccessLogEntry, Beneficiary, JourneyRecord
from parcours.orientations.models import ServiceOrientationRecord, TrainingRequestRecord
from parcours.orientations.service_messages import FINAL_STATUSES

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
class StalledFilter:
    # Who is asking: only the journeys they may see (``parcours.access.visible_journeys``).
    visible: ColumnElement[bool] | None = None
    territory: str | None = None
    structure_id: str | None = None
    referent_id: str | None = None
    step: str | None = None
    cause: StallCause | None = None
    # Stalled for at least this many days.
    min_overdue_days: int | None = None
    # Stalled after this moment only (the digest's "newly stalled").
    stalled_after: datetime | None = None


@dataclass(frozen=True)
class StalledRow:
    beneficiary_id: str
    since: datetime
    causes: dict[StallCause, datetime]


def _moment(value: Any) -> ColumnElement[datetime]:
    return type_coerce(value, UTCDateTime())


class StalledRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _plus_days(self, column: Any, days: int) -> ColumnElement[datetime]:
        if self._dialect == "sqlite":
            # Stored as text: SQLite's own date arithmetic, in the same format.
            return _moment(func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{days} days"))
        return _moment(column + func.make_interval(0, 0, 0, days))

    def _earliest(self, *moments: ColumnElement[datetime]) -> ColumnElement[datetime]:
        """The earliest of the moments that are set (NULL when none is)."""
        if self._dialect == "postgresql":
            return _moment(func.least(*moments))
        never = literal(_NEVER, UTCDateTime())
        first = func.min(*(func.coalesce(m, never) for m in moments))
        return _moment(func.nullif(first, never))

    def _causes(
        self, f: StalledFilter, now: datetime, inactive_days: int, *, moments: bool = True
    ) -> Subquery:
        """One row per open journey the filter keeps, with each cause's since (or NULL), and
        the earliest as ``since``; without ``moments``, 1 instead of each date (cheaper)."""
        j = JourneyRecord
        cutoff = now - timedelta(days=inactive_days)
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
        # The carnet's recent changes, gathered once (an index of the access log's updates
        # by time, ``ACCESS_LOG_UPDATES_INDEX``), not probed journey by journey.
        changed = (
            select(AccessLogEntry.beneficiary_id.label("beneficiary_id"))
            .where(
                # Inline, so that the planners see the partial index applies.
                AccessLogEntry.action == literal_column("'update'"),
                AccessLogEntry.at >= cutoff,
                AccessLogEntry.what.like("carnet.%"),
            )
            .group_by(AccessLogEntry.beneficiary_id)
            .subquery("changed")
        )
        deadline_hit = and_(
            j.paused.is_(False),
            j.deadline.is_not(None),
            or_(j.stalled.is_(True), j.deadline < now),
        )
        inactive_hit = and_(
            j.paused.is_(False), j.updated_at < cutoff, changed.c.beneficiary_id.is_(None)
        )
        if moments:
            deadline_since = _moment(case((deadline_hit, j.deadline), else_=null()))
            inactive_since = _moment(
                case((inactive_hit, self._plus_days(j.updated_at, inactive_days)), else_=null())
            )
            request_since = _moment(requests.c.since)
            incident_since = _moment(incidents.c.since)
            since = self._earliest(deadline_since, inactive_since, request_since, incident_since)
        else:
            # Counting needs no dates: 1 where a cause holds (COUNT skips the NULLs).
            hits = (deadline_hit, inactive_hit, requests.c.since.is_not(None))
            deadline_since, inactive_since, request_since = (
                case((hit, 1), else_=null()) for hit in hits
            )
            incident_since = case((incidents.c.since.is_not(None), 1), else_=null())
            since = case((or_(*hits, incidents.c.since.is_not(None)), 1), else_=null())
        query = (
            select(
                j.beneficiary_id.label("beneficiary_id"),
                deadline_since.label("deadline_since"),
                inactive_since.label("inactive_since"),
                request_since.label("request_since"),
                incident_since.label("incident_since"),
                since.label("since"),
            )
            .outerjoin(requests, requests.c.beneficiary_id == j.beneficiary_id)
            .outerjoin(incidents, incidents.c.beneficiary_id == j.beneficiary_id)
            .outerjoin(changed, changed.c.beneficiary_id == j.beneficiary_id)
            .where(j.step != Step.CLOSED.value)
        )
        if f.visible is not None:
            query = query.where(f.visible)
        if f.territory:
            query = query.where(j.territory == f.territory)
        if f.structure_id:
            query = query.where(j.structure_id == f.structure_id)
        if f.referent_id:
            query = query.where(j.referent_id == f.referent_id)
        if f.step:
            query = query.where(j.step == f.step)
        # OFFSET 0: the planners compute each row's causes once, not once per use of them.
        return query.offset(0).subquery("causes")

    @staticmethod
    def _stalled(causes: Subquery, f: StalledFilter, now: datetime) -> list[ColumnElement[bool]]:
        """The conditions on a ``_causes`` row, the cause filter aside."""
        since = causes.c.since
        conditions: list[ColumnElement[bool]] = [since.is_not(None)]
        if f.min_overdue_days:
            conditions.append(since <= now - timedelta(days=f.min_overdue_days))
        if f.stalled_after is not None:
            conditions.append(since > f.stalled_after)
        return conditions

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
        how many have each cause (whatever the cause filter)."""
        # Counting reads no date unless a filter is on one.
        dated = f.min_overdue_days is not None or f.stalled_after is not None
        tally = self._causes(f, now, inactive_days, moments=dated)
        wanted = tally.c[CAUSE_COLUMNS[f.cause]].is_not(None) if f.cause else None
        counting = select(
            func.count().filter(wanted) if wanted is not None else func.count(),
            *(func.count(tally.c[column]) for column in CAUSE_COLUMNS.values()),
        ).where(*self._stalled(tally, f, now))
        counted = (await self.session.execute(counting)).one()
        total = int(counted[0])
        counts = {cause: int(n) for cause, n in zip(CAUSE_COLUMNS, counted[1:], strict=True)}
        if offset >= total:
            return [], total, counts
        causes = self._causes(f, now, inactive_days)
        wanted = causes.c[CAUSE_COLUMNS[f.cause]].is_not(None) if f.cause else None
        listing = (
            select(causes)
            .where(*self._stalled(causes, f, now), *([wanted] if wanted is not None else []))
            .order_by(causes.c.since, causes.c.beneficiary_id)
            .limit(limit)
            .offset(offset)
        )
        rows = (await self.session.execute(listing)).mappings().all()
        return [_row(r) for r in rows], total, counts

    async def one(
        self, beneficiary_id: str, *, now: datetime, inactive_days: int
    ) -> StalledRow | None:
        """One journey's causes (None when it is not stalled)."""
        causes = self._causes(StalledFilter(), now, inactive_days)
        found = (
            (
                await self.session.execute(
                    select(causes).where(
                        causes.c.beneficiary_id == beneficiary_id, causes.c.since.is_not(None)
                    )
                )
            )
            .mappings()
            .first()
        )
        return _row(found) if found else None

    async def journeys_with_people(
        self, ids: Sequence[str]
    ) -> dict[str, tuple[JourneyRecord, Beneficiary]]:
        rows = await self.session.execute(
            select(JourneyRecord, Beneficiary)
            .join(Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id)
            .where(JourneyRecord.beneficiary_id.in_(ids))
        )
        return {row[0].beneficiary_id: (row[0], row[1]) for row in rows.all()}

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
