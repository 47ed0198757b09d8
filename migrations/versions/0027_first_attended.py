"""first attended: each journey's milestones keep the first appointment attended after its
orientation (PostgreSQL)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 00:10:00

The appointments' indicators measure the days from the orientation to the first appointment
the person attended on that day or after. Looking it up at each read cost one index step per
person oriented in the period (280 of the 730 ms of a Nord-sized département's year). On
PostgreSQL two triggers now keep it on the milestones' row, so the read is an aggregate of the
milestones like the others:

- a milestone inserted, or whose orientation day or person changes, looks it up;
- an appointment inserted, changed (status, slot, person) or deleted while attended looks it
  up again for the person's milestones.

SQLite, which knows no time zones, cannot tell a French day in a trigger: there the column
stays empty and the indicators look the appointments up at each read (the embedded default
holds one département's demo, not the country).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The first appointment the person attended on the French day ``oriented`` or after.
FIRST_ATTENDED = """
    CREATE FUNCTION parcours_first_attended(person varchar, oriented date)
    RETURNS timestamptz AS $$
        SELECT min(starts_at) FROM appointments
         WHERE beneficiary_id = person AND status = 'attended'
           AND starts_at >= timezone('Europe/Paris', oriented::timestamp)
    $$ LANGUAGE sql STABLE
"""
MILESTONE_LOOKS = """
    CREATE FUNCTION journey_milestones_first_attended() RETURNS trigger AS $$
    BEGIN
        NEW.first_attended_at := CASE WHEN NEW.oriented_on IS NULL THEN NULL
            ELSE parcours_first_attended(NEW.beneficiary_id, NEW.oriented_on) END;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
"""
APPOINTMENT_TELLS = """
    CREATE FUNCTION appointments_first_attended() RETURNS trigger AS $$
    DECLARE person varchar;
    BEGIN
        FOR person IN
            SELECT DISTINCT p FROM (VALUES (
                CASE WHEN TG_OP <> 'INSERT' THEN OLD.beneficiary_id END),
                (CASE WHEN TG_OP <> 'DELETE' THEN NEW.beneficiary_id END)) AS who (p)
             WHERE p IS NOT NULL
        LOOP
            UPDATE journey_milestones
               SET first_attended_at = parcours_first_attended(beneficiary_id, oriented_on)
             WHERE beneficiary_id = person AND oriented_on IS NOT NULL
               AND first_attended_at IS DISTINCT FROM
                   parcours_first_attended(beneficiary_id, oriented_on);
        END LOOP;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
"""
TRIGGERS = (
    """
    CREATE TRIGGER journey_milestones_first_attended_insert
    BEFORE INSERT ON journey_milestones FOR EACH ROW WHEN (NEW.oriented_on IS NOT NULL)
    EXECUTE FUNCTION journey_milestones_first_attended()
    """,
    """
    CREATE TRIGGER journey_milestones_first_attended_update
    BEFORE UPDATE ON journey_milestones FOR EACH ROW
    WHEN (NEW.oriented_on IS DISTINCT FROM OLD.oriented_on
          OR NEW.beneficiary_id IS DISTINCT FROM OLD.beneficiary_id)
    EXECUTE FUNCTION journey_milestones_first_attended()
    """,
    """
    CREATE TRIGGER appointments_first_attended_insert
    AFTER INSERT ON appointments FOR EACH ROW WHEN (NEW.status = 'attended')
    EXECUTE FUNCTION appointments_first_attended()
    """,
    """
    CREATE TRIGGER appointments_first_attended_update
    AFTER UPDATE OF status, starts_at, beneficiary_id ON appointments FOR EACH ROW
    WHEN ((OLD.status = 'attended' OR NEW.status = 'attended')
          AND (NEW.status IS DISTINCT FROM OLD.status
               OR NEW.starts_at IS DISTINCT FROM OLD.starts_at
               OR NEW.beneficiary_id IS DISTINCT FROM OLD.beneficiary_id))
    EXECUTE FUNCTION appointments_first_attended()
    """,
    """
    CREATE TRIGGER appointments_first_attended_delete
    AFTER DELETE ON appointments FOR EACH ROW WHEN (OLD.status = 'attended')
    EXECUTE FUNCTION appointments_first_attended()
    """,
)
DROPPED = (
    "DROP TRIGGER appointments_first_attended_delete ON appointments",
    "DROP TRIGGER appointments_first_attended_update ON appointments",
    "DROP TRIGGER appointments_first_attended_insert ON appointments",
    "DROP TRIGGER journey_milestones_first_attended_update ON journey_milestones",
    "DROP TRIGGER journey_milestones_first_attended_insert ON journey_milestones",
    "DROP FUNCTION appointments_first_attended()",
    "DROP FUNCTION journey_milestones_first_attended()",
    "DROP FUNCTION parcours_first_attended(varchar, date)",
)


def upgrade() -> None:
    with op.batch_alter_table("journey_milestones") as batch:
        batch.add_column(sa.Column("first_attended_at", sa.DateTime(timezone=True)))
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in (FIRST_ATTENDED, MILESTONE_LOOKS, APPOINTMENT_TELLS, *TRIGGERS):
        op.execute(statement)
    op.execute(
        """
        UPDATE journey_milestones
           SET first_attended_at = parcours_first_attended(beneficiary_id, oriented_on)
         WHERE oriented_on IS NOT NULL
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROPPED:
            op.execute(statement)
    with op.batch_alter_table("journey_milestones") as batch:
        batch.drop_column("first_attended_at")
