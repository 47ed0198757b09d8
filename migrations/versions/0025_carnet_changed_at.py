"""carnet changed at: the stalled list reads a journey's last carnet change from its own row

Revision ID: 0025
Revises: 0023_law_reorient
Create Date: 2026-12-05 21:00:00

The stalled list's inactivity cause (no event and no carnet change for 60 days) grouped, at
each read, the carnet changes of the last 60 days in the whole access log: 250 of the 320 ms
of the largest département's list with 2,000,000 journeys in the country
(``make bench-national``). A trigger on the access log now keeps the person's journey row's
``carnet_changed_at`` (the access log's carnet updates only), and the open journeys' index
includes it: the list reads its département's open journeys and nothing else.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0023_law_reorient"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``ix_journeys_open``'s included columns (0010) and, from here, the carnet's last change.
BEFORE = ["beneficiary_id", "deadline", "stalled", "paused", "updated_at", "structure_id",
          "referent_id"]  # fmt: skip
AFTER = [*BEFORE, "carnet_changed_at"]

CARNET_UPDATE = "NEW.action = 'update' AND NEW.what LIKE 'carnet.%'"
SET_CHANGED = """
    UPDATE journeys SET carnet_changed_at = NEW.at
     WHERE beneficiary_id = NEW.beneficiary_id
       AND (carnet_changed_at IS NULL OR carnet_changed_at < NEW.at);
"""


def _open_index(include: list[str]) -> None:
    op.drop_index("ix_journeys_open", table_name="journeys")
    op.create_index(
        "ix_journeys_open",
        "journeys",
        ["territory", "step"],
        sqlite_where=sa.text("step <> 'closed'"),
        postgresql_where=sa.text("step <> 'closed'"),
        postgresql_include=include,
    )


def upgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("carnet_changed_at", sa.DateTime(timezone=True)))
    # What the access log holds already, for the open journeys (a closed one is never
    # listed; a person who comes back starts a journey whose own events count).
    op.execute(
        """
        UPDATE journeys SET carnet_changed_at = (
            SELECT max(a.at) FROM access_log a
             WHERE a.beneficiary_id = journeys.beneficiary_id
               AND a.action = 'update' AND a.what LIKE 'carnet.%'
        )
        WHERE step <> 'closed'
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION journeys_carnet_changed() RETURNS trigger AS $$
            BEGIN {SET_CHANGED} RETURN NULL; END $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER access_log_carnet_changed AFTER INSERT ON access_log
            FOR EACH ROW WHEN ({CARNET_UPDATE}) EXECUTE FUNCTION journeys_carnet_changed()
            """
        )
    else:
        op.execute(
            f"""
            CREATE TRIGGER access_log_carnet_changed AFTER INSERT ON access_log
            WHEN {CARNET_UPDATE} BEGIN {SET_CHANGED} END
            """
        )
    _open_index(AFTER)


def downgrade() -> None:
    _open_index(BEFORE)
    op.execute("DROP TRIGGER access_log_carnet_changed ON access_log"
               if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER access_log_carnet_changed")  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION journeys_carnet_changed()")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("carnet_changed_at")
