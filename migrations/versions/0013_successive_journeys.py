"""successive journeys: a person can be followed again; each journey has its own id

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00

A person whose RSA closes and opens again later starts a new journey; the earlier ones stay
readable. Each journey gets an id (``journey_id``), its workflow id is ``journey-<journey_id>``,
and its events, milestones and stays are keyed by it. The journeys recorded before keep the
person's id as their journey id: ``journey-<person>`` is already their workflow's id, so the
running workflows go on unchanged. The ``journeys`` table keeps one row per person: their
current journey.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The names PostgreSQL gave the constraints created unnamed, given to SQLite's (reflected
# unnamed) too, so that one batch operation drops them on both.
NAMES = {"uq": "%(table_name)s_%(column_0_N_name)s_key", "pk": "%(table_name)s_pkey"}


def upgrade() -> None:
    for table in ("journeys", "journey_events", "journey_milestones", "journey_step_spans"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("journey_id", sa.String(length=36), nullable=True))
        op.execute(f"UPDATE {table} SET journey_id = beneficiary_id")

    with op.batch_alter_table("journeys") as batch:
        batch.alter_column("journey_id", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_journeys_journey_id", ["journey_id"])

    with op.batch_alter_table("journey_events", naming_convention=NAMES) as batch:
        batch.alter_column("journey_id", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint("journey_events_beneficiary_id_seq_key", type_="unique")
        batch.create_unique_constraint("uq_journey_events_journey_seq", ["journey_id", "seq"])

    with op.batch_alter_table("journey_milestones", naming_convention=NAMES) as batch:
        batch.alter_column("journey_id", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint("journey_milestones_pkey", type_="primary")
        batch.create_primary_key("journey_milestones_pkey", ["journey_id"])
        batch.create_index("ix_journey_milestones_beneficiary_id", ["beneficiary_id"])

    with op.batch_alter_table("journey_step_spans", naming_convention=NAMES) as batch:
        batch.alter_column("journey_id", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint("journey_step_spans_pkey", type_="primary")
        batch.create_primary_key("journey_step_spans_pkey", ["journey_id", "entered_at"])
        batch.create_index("ix_journey_step_spans_beneficiary_id", ["beneficiary_id"])


def downgrade() -> None:
    # Only the first journey of each person can go back to the former keys.
    op.execute("DELETE FROM journey_step_spans WHERE journey_id != beneficiary_id")
    op.execute("DELETE FROM journey_milestones WHERE journey_id != beneficiary_id")
    op.execute("DELETE FROM journey_events WHERE journey_id != beneficiary_id")
    with op.batch_alter_table("journey_step_spans", naming_convention=NAMES) as batch:
        batch.drop_index("ix_journey_step_spans_beneficiary_id")
        batch.drop_constraint("journey_step_spans_pkey", type_="primary")
        batch.create_primary_key("journey_step_spans_pkey", ["beneficiary_id", "entered_at"])
        batch.drop_column("journey_id")
    with op.batch_alter_table("journey_milestones", naming_convention=NAMES) as batch:
        batch.drop_index("ix_journey_milestones_beneficiary_id")
        batch.drop_constraint("journey_milestones_pkey", type_="primary")
        batch.create_primary_key("journey_milestones_pkey", ["beneficiary_id"])
        batch.drop_column("journey_id")
    with op.batch_alter_table("journey_events", naming_convention=NAMES) as batch:
        batch.drop_constraint("uq_journey_events_journey_seq", type_="unique")
        batch.create_unique_constraint(
            "journey_events_beneficiary_id_seq_key", ["beneficiary_id", "seq"]
        )
        batch.drop_column("journey_id")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_constraint("uq_journeys_journey_id", type_="unique")
        batch.drop_column("journey_id")
