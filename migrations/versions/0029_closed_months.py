"""closed months: the stays of each département's closed months kept, kept true by triggers

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 01:30:00

The time per step sorted a year of stays at each read (a 20,000-journey département:
≈ 42,000). ``indicator_stay_durations`` keeps, per département, closed month, structure and
step, the sorted durations of the stays that ended in it; ``indicator_stay_months`` holds each
(département, month)'s **version**, which the triggers below bump whenever a statement changes
a stay that ended in a month already over (the old and the new row, whoever writes: the
projection, a rebuild, a reconciliation, an import, a cascade, ``COPY``). Kept durations are
used only at the version they were counted at (``parcours.indicators.closed_months``). A
``TRUNCATE`` of the stays bumps every version.

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

# The months a statement touched that are over (Paris time), in a fixed order (two writers
# bumping the same months lock them in the same order).
TOUCHED = """
    INSERT INTO indicator_stay_months AS m (territory, month, version)
    SELECT territory, month, 1 FROM (
        SELECT DISTINCT territory,
               date_trunc('month', left_at AT TIME ZONE 'Europe/Paris')::date AS month
        FROM {rows}
        WHERE left_at < (date_trunc('month', now() AT TIME ZONE 'Europe/Paris')
                         AT TIME ZONE 'Europe/Paris')
    ) AS over
    ORDER BY territory, month
    ON CONFLICT (territory, month) DO UPDATE SET version = m.version + 1;
"""

FUNCTION = f"""
CREATE FUNCTION indicator_stays_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {TOUCHED.format(rows="old_stays")}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {TOUCHED.format(rows="new_stays")}
    END IF;
    RETURN NULL;
END
$$;
"""

TRUNCATED = """
CREATE FUNCTION indicator_stays_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE indicator_stay_months SET version = version + 1;
    RETURN NULL;
END
$$;
"""

TRIGGERS = {
    "indicator_stays_inserted": "AFTER INSERT ON journey_step_spans "
    "REFERENCING NEW TABLE AS new_stays",
    "indicator_stays_updated": "AFTER UPDATE ON journey_step_spans "
    "REFERENCING OLD TABLE AS old_stays NEW TABLE AS new_stays",
    "indicator_stays_deleted": "AFTER DELETE ON journey_step_spans "
    "REFERENCING OLD TABLE AS old_stays",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "indicator_stay_months",
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
    op.execute(FUNCTION)
    op.execute(TRUNCATED)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION indicator_stays_changed()"
        )
    op.execute(
        "CREATE TRIGGER indicator_stays_truncated AFTER TRUNCATE ON journey_step_spans "
        "FOR EACH STATEMENT EXECUTE FUNCTION indicator_stays_truncated()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in [*TRIGGERS, "indicator_stays_truncated"]:
        op.execute(f"DROP TRIGGER {name} ON journey_step_spans")
    op.execute("DROP FUNCTION indicator_stays_changed()")
    op.execute("DROP FUNCTION indicator_stays_truncated()")
    op.drop_table("indicator_stay_durations")
    op.drop_table("indicator_stay_months")
