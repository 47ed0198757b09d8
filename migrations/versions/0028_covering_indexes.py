"""covering indexes: the indicators read their milestones and appointments from the index alone

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 03:40:00

Each indicator aggregates a département's milestones (or its structures' appointments) over a
period, found by an index on (territory, day). The rows themselves lie one per table page
(journeys are written in the order they move, every département mixed), so a Nord-sized year
read 30,000 pages for 48,000 rows. On PostgreSQL the same indexes now carry the columns each
aggregate counts (``INCLUDE``): an index-only scan reads a few hundred pages (2,000,000
journeys, the Nord's year: contracts 206 → 24 ms, invitations and convocations 413 → 91 ms).
SQLite keeps its plain indexes (it has no ``INCLUDE``). Built without ``CONCURRENTLY`` (inside
the migration's transaction): writes to these tables wait for the build, about a minute per
2,000,000 rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, key columns, included columns): as in the models.
COVERING = [
    (
        "ix_journey_milestones_territory_reference",
        "journey_milestones",
        ["territory", "reference_on"],
        [
            "structure_id",
            "rsa_opened_on",
            "transferred_in_on",
            "diagnosis_on",
            "oriented_on",
            "oriented_by",
            "contract_signed_on",
            "employment_on",
            "follow_up_on",
            "follow_up_outcome",
        ],
    ),
    (
        "ix_journey_milestones_territory_oriented",
        "journey_milestones",
        ["territory", "oriented_on"],
        ["structure_id", "contract_signed_on", "first_attended_at"],
    ),
    (
        "ix_journey_milestones_territory_follow_up",
        "journey_milestones",
        ["territory", "follow_up_on"],
        ["structure_id", "follow_up_outcome"],
    ),
    (
        "ix_journey_milestones_territory_closed",
        "journey_milestones",
        ["territory", "closed_on"],
        ["structure_id", "exit_reason", "exit_code"],
    ),
    (
        "ix_appointments_structure_starts",
        "appointments",
        ["structure_id", "starts_at"],
        ["mode", "status"],
    ),
]


def _rebuild(include: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's indexes stay as they are: no INCLUDE there.
    for name, table, columns, included in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=included if include else [])


def upgrade() -> None:
    _rebuild(include=True)


def downgrade() -> None:
    _rebuild(include=False)
