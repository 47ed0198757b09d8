"""closed months: the first appointments, the contracts and the exits kept too

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 05:00:00

After the time per step and the invitations (0029), three more of a year's indicators come from
the milestones and are kept for each département's closed months
(``parcours.indicators.closed_months``):

- ``indicator_first_appointment_counts``: the people oriented in the month, per structure and
  delay in days to their first appointment attended (-1: none yet);
- ``indicator_contract_counts``: the same people per structure and delay to their contract
  (``signed`` false: none yet), so that any ``contract_days`` of the département reads them;
- ``indicator_exit_counts``: the journeys closed in the month, per structure, exit reason and
  coded exit ('' for none).

The first two count people by their month of orientation and say who is « due » (oriented 15
and 30 days ago, or ``contract_days`` ago, or more) from today: a month is kept for them only
once its last day is that far behind. The exits do not depend on today.

The version of each (figure, département, month) is bumped by the trigger below whenever a
statement changes a milestone row of a month already over, in a column that figure counts —
the old and the new row, whoever writes (the projection, a rebuild, 0027's triggers noting the
first appointment attended), cascades and ``TRUNCATE`` included. Rows whose counted columns did
not change bump nothing: the projection rewrites a journey's milestones at each transition.

PostgreSQL only: SQLite counts every read, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = {
    # figure: (the day its months are of, the columns it counts)
    "first_appointments": (
        "oriented_on",
        ("territory", "structure_id", "oriented_on", "first_attended_at"),
    ),
    "contracts": (
        "oriented_on",
        ("territory", "structure_id", "oriented_on", "contract_signed_on"),
    ),
    "exits": ("closed_on", ("territory", "structure_id", "closed_on", "exit_reason", "exit_code")),
}

# The months (of ``day``) a statement touched that are over, in a fixed order as 0029's.
BUMP = """
    INSERT INTO indicator_months AS m (figure, territory, month, version)
    SELECT '{figure}', territory, month, 1 FROM (
        SELECT DISTINCT r.territory AS territory,
               date_trunc('month', r.{day}::timestamp)::date AS month
        FROM {rows} AS r
        WHERE r.{day} < date_trunc('month', now() AT TIME ZONE 'Europe/Paris')::date
    ) AS over
    ORDER BY territory, month
    ON CONFLICT (figure, territory, month) DO UPDATE SET version = m.version + 1;
"""

# An update's rows whose counted columns changed (``o``: as they were, ``n``: as they are).
CHANGED = """(
            SELECT {side}.* FROM old_rows AS o JOIN new_rows AS n USING (journey_id)
            WHERE ({old}) IS DISTINCT FROM ({new})
        )"""


def bump(figure: str, rows: str) -> str:
    return BUMP.format(figure=figure, day=FIGURES[figure][0], rows=rows)


def changed(figure: str, side: str) -> str:
    columns = FIGURES[figure][1]
    return CHANGED.format(
        side=side,
        old=", ".join(f"o.{c}" for c in columns),
        new=", ".join(f"n.{c}" for c in columns),
    )


def _statements(make: str) -> str:
    return "".join(
        {
            "inserted": lambda f: bump(f, "new_rows"),
            "deleted": lambda f: bump(f, "old_rows"),
            "updated": lambda f: bump(f, changed(f, "o")) + bump(f, changed(f, "n")),
        }[make](figure)
        for figure in FIGURES
    )


FUNCTION = f"""
CREATE FUNCTION indicator_milestones_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_statements("inserted")}
    ELSIF TG_OP = 'DELETE' THEN
        {_statements("deleted")}
    ELSE
        {_statements("updated")}
    END IF;
    RETURN NULL;
END
$$;
"""

TRUNCATED = """
CREATE FUNCTION indicator_milestones_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE indicator_months SET version = version + 1
    WHERE figure IN ('first_appointments', 'contracts', 'exits');
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
    op.create_table(
        "indicator_contract_counts",
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("structure_key", sa.String(36), primary_key=True),
        sa.Column("signed", sa.Boolean(), primary_key=True),
        # Days from the orientation to the contract (0 when not signed).
        sa.Column("delay", sa.Integer(), primary_key=True),
        sa.Column("oriented", sa.Integer(), nullable=False),
    )
    op.create_table(
        "indicator_exit_counts",
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("structure_key", sa.String(36), primary_key=True),
        # '' for none.
        sa.Column("exit_reason", sa.String(30), primary_key=True),
        sa.Column("exit_code", sa.String(40), primary_key=True),
        sa.Column("closed", sa.Integer(), nullable=False),
    )
    op.execute(FUNCTION)
    op.execute(TRUNCATED)
    for event, when in WHEN.items():
        op.execute(
            f"CREATE TRIGGER indicator_milestones_{event} {when} "
            "FOR EACH STATEMENT EXECUTE FUNCTION indicator_milestones_changed()"
        )
    op.execute(
        "CREATE TRIGGER indicator_milestones_truncated AFTER TRUNCATE ON journey_milestones "
        "FOR EACH STATEMENT EXECUTE FUNCTION indicator_milestones_truncated()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in (*WHEN, "truncated"):
        op.execute(f"DROP TRIGGER indicator_milestones_{event} ON journey_milestones")
    op.execute("DROP FUNCTION indicator_milestones_changed()")
    op.execute("DROP FUNCTION indicator_milestones_truncated()")
    op.execute(
        "DELETE FROM indicator_months WHERE figure IN ('first_appointments', 'contracts', 'exits')"
    )
    op.drop_table("indicator_exit_counts")
    op.drop_table("indicator_contract_counts")
    op.drop_table("indicator_first_appointment_counts")
