"""Fill the milestones and step spans of journeys recorded before the indicators existed,
from their timeline (``journey_events``), with the projection's own rules.

Run once by the migration that creates the tables (synchronous, on its connection). The
tables are described here as they were created, so that later models do not change what
this migration does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from parcours.core.db import UTCDateTime
from parcours.indicators.rules import journey_rows

BATCH = 2000

_journeys = sa.table(
    "journeys",
    sa.column("beneficiary_id", sa.String),
    sa.column("step", sa.String),
    sa.column("step_since", UTCDateTime()),
    sa.column("territory", sa.String),
    sa.column("structure_id", sa.String),
)
_people = sa.table("beneficiaries", sa.column("id", sa.String), sa.column("rsa_opened_on", sa.Date))
_events = sa.table(
    "journey_events",
    sa.column("beneficiary_id", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("step", sa.String),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("detail", sa.JSON),
)
MILESTONES = sa.table(
    "journey_milestones",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("beneficiary_id", sa.String),
            ("territory", sa.String),
            ("structure_id", sa.String),
            ("rsa_opened_on", sa.Date),
            ("reference_on", sa.Date),
            ("diagnosis_on", sa.Date),
            ("oriented_on", sa.Date),
            ("contract_signed_on", sa.Date),
            ("employment_on", sa.Date),
            ("follow_up_on", sa.Date),
            ("follow_up_outcome", sa.String),
            ("follow_up_seq", sa.Integer),
            ("closed_on", sa.Date),
            ("exit_reason", sa.String),
            ("seq", sa.Integer),
        )
    ),
)
SPANS = sa.table(
    "journey_step_spans",
    sa.column("beneficiary_id", sa.String),
    sa.column("entered_at", UTCDateTime()),
    sa.column("step", sa.String),
    sa.column("entered_seq", sa.Integer),
    sa.column("left_at", UTCDateTime()),
    sa.column("territory", sa.String),
    sa.column("structure_id", sa.String),
)


def _timelines(connection: Connection) -> Iterator[tuple[dict[str, Any], date | None, list]]:
    journeys = connection.execute(
        sa.select(
            _journeys.c.beneficiary_id,
            _journeys.c.step,
            _journeys.c.step_since,
            _journeys.c.territory,
            _journeys.c.structure_id,
            _people.c.rsa_opened_on,
        )
        .join(_people, _people.c.id == _journeys.c.beneficiary_id)
        .order_by(_journeys.c.beneficiary_id)
    ).all()
    for start in range(0, len(journeys), BATCH):
        batch = journeys[start : start + BATCH]
        ids = [j.beneficiary_id for j in batch]
        timelines: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        rows = connection.execute(
            sa.select(_events)
            .where(_events.c.beneficiary_id.in_(ids))
            .order_by(_events.c.beneficiary_id, _events.c.seq)
        )
        for event in rows.mappings():
            timelines[event["beneficiary_id"]].append(dict(event))
        for j in batch:
            journey = dict(j._mapping)
            yield journey, journey.pop("rsa_opened_on"), timelines[j.beneficiary_id]


def backfill(connection: Connection) -> int:
    """Write the milestones and spans of every journey (the tables are expected empty);
    returns how many journeys were filled."""
    count = 0
    milestone_rows: list[dict[str, Any]] = []
    span_rows: list[dict[str, Any]] = []

    def flush() -> None:
        if milestone_rows:
            # Only the columns of the table as this migration created it (later rules add more).
            known = set(MILESTONES.c.keys())
            rows = [{k: v for k, v in row.items() if k in known} for row in milestone_rows]
            connection.execute(sa.insert(MILESTONES), rows)
        if span_rows:
            connection.execute(sa.insert(SPANS), span_rows)
        milestone_rows.clear()
        span_rows.clear()

    for journey, rsa_opened_on, events in _timelines(connection):
        milestones, spans = journey_rows(journey, rsa_opened_on, events)
        if milestones is not None:
            milestone_rows.append(milestones)
        span_rows.extend(spans)
        count += 1
        if len(span_rows) >= BATCH:
            flush()
    flush()
    return count
