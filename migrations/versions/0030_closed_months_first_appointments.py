"""closed months: the first appointments after the orientation kept too

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 05:00:00

After the time per step and the invitations (0029), the dearest of a year's indicators was the
first appointment attended after the orientation: every person oriented in the period grouped
by month, structure and delay in days. For each département and month of orientation,
``indicator_first_appointment_counts`` keeps how many people were oriented, per structure and
delay (-1: none attended yet). Those counts do not depend on today; only which people are
« due » (oriented 15 and 30 days ago or more) does, so a month is kept only once its last day
is 30 days behind (``parcours.indicators.closed_months``).

The version of each (``first_appointments``, département, month of orientation) is bumped by
the triggers below whenever a statement changes a milestone row oriented in a month already
over, in a column the figure counts (its département, structure, day of orientation, first
appointment attended — the latter written by 0027's triggers when an appointment is noted):
old and new rows, whoever writes, cascades and ``TRUNCATE`` included.

PostgreSQL only: SQLite counts every read, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURE = "first_appointments"
KEY = "journey_id"
COUNTED = ("territory", "structure_id", "oriented_on", "first_attended_at")

# The months of orientation a statement touched that are over (by the day, in French time, as
# the milestones are), in a fixed order as 0029's.
BUMP = """
    INSERT INTO indicator_months AS m (figure, territory, month, version)
    SELECT '{figure}', territory, month, 1 FROM (
        SELECT DISTINCT r.territory AS territory,
               date_trunc('month', r.oriented_on::timestamp)::date AS month
        FROM {rows} AS r
        WHERE r.oriented_on
              < date_trunc('month', now() AT TIME ZONE 'Europe/Paris')::date
    ) AS over
    ORDER BY territory, month
    ON CONFLICT (figure, territory, month) DO UPDATE SET version = m.version + 1;
"""

# An update's rows whose counted columns changed (``o``: as they were, ``n``: as they are).
CHANGED = """(
            SELECT {side}.* FROM old_rows AS o JOIN new_rows AS n USING ({key})
            WHERE ({old}) IS DISTINCT FROM ({new})
        )"""


def _bump(rows: str) -> str:
    return BUMP.format(figure=FIGURE, rows=rows)


def _changed(side: str) -> str:
    return CHANGED.format(
        side=side,
        key=KEY,
        old=", ".join(f"o.{c}" for c in COUNTED),
        new=", ".join(f"n.{c}" for c in COUNTED),
    )


FUNCTION = f"""
CREATE FUNCTION indicator_{FIGURE}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_bump("new_rows")}
    ELSIF TG_OP = 'DELETE' THEN
        {_bump("old_rows")}
    ELSE
        {_bump(_changed("o"))}
        {_bump(_changed("n"))}
    END IF;
    RETURN NULL;
END
$$;
"""

WHEN = {
    "inserted": "AFTER INSERT ON journey_milestones REFERENCING NEW TABLE AS new_rows",
    "updated": (
        "AFTER UPDATE ON journey_milestones REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "deleted": "AFTER DELETE ON journey_milestones REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "indicator_first_appointment_counts",
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        # The structure's id, '' for the people of no structure.
        sa.Column("structure_key", sa.String(36), primary_key=True),
        # Days from the orientation to the first appointment attended; -1: none yet.
        sa.Column("delay", sa.Integer(), primary_key=True),
        sa.Column("oriented", sa.Integer(), nullable=False),
    )
    op.execute(FUNCTION)
    for event, when in WHEN.items():
        op.execute(
            f"CREATE TRIGGER indicator_{FIGURE}_{event} {when} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION indicator_{FIGURE}_changed()"
        )
    # 0029's function bumps every month of the figure named.
    op.execute(
        f"CREATE TRIGGER indicator_{FIGURE}_truncated AFTER TRUNCATE ON journey_milestones "
        f"FOR EACH STATEMENT EXECUTE FUNCTION indicator_rows_truncated('{FIGURE}')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in (*WHEN, "truncated"):
        op.execute(f"DROP TRIGGER indicator_{FIGURE}_{event} ON journey_milestones")
    op.execute(f"DROP FUNCTION indicator_{FIGURE}_changed()")
    op.execute(f"DELETE FROM indicator_months WHERE figure = '{FIGURE}'")
    op.drop_table("indicator_first_appointment_counts")
