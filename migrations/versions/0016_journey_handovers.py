"""journeys handed off to another département: one row per hand-off

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-12 10:00:00

The projection of a ``handed_off`` event writes its row from now on: the receiving
département's digest lists the arrival, and the former référent and the référents of the
former structure read the carnet until ``readable_until``. The hand-offs already in the
timelines get their row too, without a read period (their former team lost access when they
happened, and their events do not say who it was).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    handovers = op.create_table(
        "journey_handovers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("journey_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "beneficiary_id",
            sa.String(length=36),
            sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_territory", sa.String(length=3), nullable=False),
        sa.Column("to_territory", sa.String(length=3), nullable=False),
        sa.Column("from_referent_id", sa.String(length=36), nullable=True),
        sa.Column("from_structure_id", sa.String(length=36), nullable=True),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readable_until", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("journey_id", "seq", name="uq_journey_handovers_journey_seq"),
    )
    op.create_index("ix_journey_handovers_beneficiary_id", "journey_handovers", ["beneficiary_id"])
    op.create_index(
        "ix_journey_handovers_to_territory_at",
        "journey_handovers",
        ["to_territory", "handed_off_at"],
    )

    events = sa.table(
        "journey_events",
        sa.column("journey_id", sa.String()),
        sa.column("seq", sa.Integer()),
        sa.column("beneficiary_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("detail", sa.JSON()),
    )
    earlier = op.get_bind().execute(
        sa.select(
            events.c.journey_id,
            events.c.seq,
            events.c.beneficiary_id,
            events.c.occurred_at,
            events.c.detail,
        ).where(events.c.kind == "handed_off")
    )
    rows = [
        {
            "journey_id": row.journey_id,
            "seq": row.seq,
            "beneficiary_id": row.beneficiary_id,
            "from_territory": str((row.detail or {}).get("from_territory") or ""),
            "to_territory": str((row.detail or {}).get("to_territory") or ""),
            "from_referent_id": None,
            "from_structure_id": None,
            "handed_off_at": row.occurred_at,
            "readable_until": row.occurred_at,
        }
        for row in earlier
    ]
    if rows:
        op.bulk_insert(handovers, rows)


def downgrade() -> None:
    op.drop_index("ix_journey_handovers_to_territory_at", table_name="journey_handovers")
    op.drop_index("ix_journey_handovers_beneficiary_id", table_name="journey_handovers")
    op.drop_table("journey_handovers")
