"""closed months: what the indicators counted for each département's closed months, kept, and
kept true by triggers

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 01:30:00

A year's indicators read a year of rows each time; the dearest were the time per step (the
stays that ended in the period, sorted: ≈ 42,000 for a 20,000-journey département) and the
invitations and convocations (counted by month, structure, mode and status). For each
département and closed month, ``indicator_stay_durations`` keeps the sorted durations of the
month's stays per structure and step, and ``indicator_appointment_counts`` the month's
invitations and convocations counted per structure, mode and status
(``parcours.indicators.closed_months``).

``indicator_months`` holds each (figure, département, month)'s **version**, which the triggers
below bump whenever a statement changes a row of a month already over (the old and the new
row, whoever writes: the projection, a rebuild, a reconciliation, an import, an attendance
noted late, a cascade, ``COPY``). What a month keeps is used only at the version it was counted
at. A ``TRUNCATE`` bumps every version of its figure. An appointment's département is its
structure's: a structure deleted or moved to another département bumps every appointments'
month of the départements concerned.

PostgreSQL only: SQLite counts every read, as before (one small département).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The first instant of the current month, in Paris: rows of the months before it are in
# closed (or closing) months.
THIS_MONTH = "(date_trunc('month', now() AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'Europe/Paris')"

# The months a statement touched that are over, in a fixed order (two writers bumping the
# same months lock them in the same order).
BUMP = """
    INSERT INTO indicator_months AS m (figure, territory, month, version)
    SELECT '{figure}', territory, month, 1 FROM (
        SELECT DISTINCT {territory} AS territory,
               date_trunc('month', {at} AT TIME ZONE 'Europe/Paris')::date AS month
        FROM {rows}
        WHERE {at} < {this_month}
    ) AS over
    ORDER BY territory, month
    ON CONFLICT (figure, territory, month) DO UPDATE SET version = m.version + 1;
"""

FIGURES = {
    # figure: (table, its key, the columns its figures count, rows of a transition table,
    # département, instant)
    "stays": (
        "journey_step_spans",
        ("journey_id", "entered_at"),
        ("step", "left_at", "territory", "structure_id"),
        "{rows} AS r",
        "r.territory",
        "r.left_at",
    ),
    "appointments": (
        "appointments",
        ("id",),
        ("starts_at", "structure_id", "mode", "status"),
        "{rows} AS a JOIN structures AS s ON s.id = a.structure_id",
        "s.territory",
        "a.starts_at",
    ),
}

# An update's rows whose counted columns changed, as they were (``o``) or are (``n``): a
# reminder sent, a token cleared, a stay rewritten as it was change no month.
CHANGED = """(
            SELECT {side}.* FROM old_rows AS o JOIN new_rows AS n USING ({key})
            WHERE ({old}) IS DISTINCT FROM ({new})
        )"""


def _function(figure: str) -> str:
    _table, key, columns, rows, territory, at = FIGURES[figure]

    def bump(source: str) -> str:
        return BUMP.format(
            figure=figure,
            territory=territory,
            at=at,
            rows=rows.format(rows=source),
            this_month=THIS_MONTH,
        )

    def changed(side: str) -> str:
        return CHANGED.format(
            side=side,
            key=", ".join(key),
            old=", ".join(f"o.{c}" for c in columns),
            new=", ".join(f"n.{c}" for c in columns),
        )

    return f"""
CREATE FUNCTION indicator_{figure}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {bump("new_rows")}
    ELSIF TG_OP = 'DELETE' THEN
        {bump("old_rows")}
    ELSE
        {bump(changed("o"))}
        {bump(changed("n"))}
    END IF;
    RETURN NULL;
END
$$;
"""


TRUNCATED = """
CREATE FUNCTION indicator_rows_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE indicator_months SET version = version + 1 WHERE figure = TG_ARGV[0];
    RETURN NULL;
END
$$;
"""

# A structure deleted (its appointments' structure set to none) or moved to another
# département: every month of the appointments of the départements concerned.
STRUCTURES_CHANGED = """
CREATE FUNCTION indicator_structures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE indicator_months SET version = version + 1
        WHERE figure = 'appointments' AND territory IN (SELECT territory FROM old_rows);
    ELSE
        UPDATE indicator_months SET version = version + 1
        WHERE figure = 'appointments' AND territory IN (
            SELECT o.territory FROM old_rows AS o JOIN new_rows AS n USING (id)
            WHERE o.territory <> n.territory
            UNION
            SELECT n.territory FROM old_rows AS o JOIN new_rows AS n USING (id)
            WHERE o.territory <> n.territory
        );
    END IF;
    RETURN NULL;
END
$$;
"""

WHEN = {
    "inserted": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "updated": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "deleted": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "indicator_months",
        sa.Column("figure", sa.String(20), primary_key=True),
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("summarized", sa.BigInteger()),
    )
    op.create_table(
        "indicator_stay_durations",
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("structure_key", sa.String(36), primary_key=True),
        sa.Column("step", sa.String(20), primary_key=True),
        sa.Column("seconds", postgresql.ARRAY(sa.Float()), nullable=False),
    )
    op.create_table(
        "indicator_appointment_counts",
        sa.Column("territory", sa.String(3), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("structure_id", sa.String(36), primary_key=True),
        sa.Column("mode", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("held", sa.Integer(), nullable=False),
    )
    op.execute(TRUNCATED)
    for figure, (table, *_) in FIGURES.items():
        op.execute(_function(figure))
        for event, when in WHEN.items():
            op.execute(
                f"CREATE TRIGGER indicator_{figure}_{event} {when.format(table=table)} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION indicator_{figure}_changed()"
            )
        op.execute(
            f"CREATE TRIGGER indicator_{figure}_truncated AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION indicator_rows_truncated('{figure}')"
        )
    op.execute(STRUCTURES_CHANGED)
    for event in ("updated", "deleted"):
        op.execute(
            f"CREATE TRIGGER indicator_structures_{event} {WHEN[event].format(table='structures')} "
            "FOR EACH STATEMENT EXECUTE FUNCTION indicator_structures_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in ("updated", "deleted"):
        op.execute(f"DROP TRIGGER indicator_structures_{event} ON structures")
    op.execute("DROP FUNCTION indicator_structures_changed()")
    for figure, (table, *_) in FIGURES.items():
        for event in [*WHEN, "truncated"]:
            op.execute(f"DROP TRIGGER indicator_{figure}_{event} ON {table}")
        op.execute(f"DROP FUNCTION indicator_{figure}_changed()")
    op.execute("DROP FUNCTION indicator_rows_truncated()")
    op.drop_table("indicator_appointment_counts")
    op.drop_table("indicator_stay_durations")
    op.drop_table("indicator_months")
