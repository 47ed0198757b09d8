"""coded exits and the 2023 law's reporting: each département's end-of-support reasons
(``exit_codes``, the default list seeded for every département), the milestones a journey's
orientation is reported with (track, who decided, duties, transfer in, coded exit), and the
procedures' events the indicators count (``journey_procedure_events``)

Revision ID: 0023_law_report
Revises: 0022
Create Date: 2026-12-05 20:10:00

Journeys recorded before keep their rows: the new columns stay empty (an old closing has no
coded exit and counts as it did, by its exit reason).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_law_report"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default list as it was at this migration (``parcours.exits.rules`` may change later).
DEFAULTS = (
    ("emploi_durable", "Emploi durable (CDI, CDD de 6 mois ou plus)", "sustained_employment", True),
    (
        "emploi_transition",
        "Emploi de transition (CDD de moins de 6 mois, intérim, contrat aidé)",
        "employment",
        True,
    ),
    ("formation_qualifiante", "Formation qualifiante ou certifiante", "other", True),
    ("creation_entreprise", "Création ou reprise d'entreprise", "employment", True),
    ("demenagement", "Déménagement hors du département", "moved_away", False),
    ("fin_de_droits", "Fin des droits RSA", "rights_closed", False),
    ("refus", "Refus de l'accompagnement", "declined", False),
    ("sante", "Problème de santé, invalidité", "other", False),
    ("deces", "Décès", "other", False),
    ("autre", "Autre motif", "other", False),
)


def upgrade() -> None:
    exit_codes = op.create_table(
        "exit_codes",
        sa.Column("territory", sa.String(length=3), primary_key=True),
        sa.Column("code", sa.String(length=40), primary_key=True),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("exit_reason", sa.String(length=30), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    territories = sa.table("territories", sa.column("code", sa.String))
    codes = [row.code for row in op.get_bind().execute(sa.select(territories.c.code))]
    rows = [
        {
            "territory": territory,
            "code": code,
            "label": label,
            "exit_reason": reason,
            "positive": positive,
            "active": True,
            "position": position,
        }
        for territory in codes
        for position, (code, label, reason, positive) in enumerate(DEFAULTS)
    ]
    if rows:
        op.bulk_insert(exit_codes, rows)

    # The journey's read model shows the coded exit it was closed with.
    op.add_column("journeys", sa.Column("exit_code", sa.String(length=40)))
    op.add_column("journey_milestones", sa.Column("exit_code", sa.String(length=40)))
    op.add_column("journey_milestones", sa.Column("orientation", sa.String(length=20)))
    op.add_column("journey_milestones", sa.Column("oriented_by", sa.String(length=20)))
    op.add_column("journey_milestones", sa.Column("subject_to_duties", sa.Boolean()))
    op.add_column("journey_milestones", sa.Column("transferred_in_on", sa.Date()))

    _backfill_orientations()

    op.create_table(
        "journey_procedure_events",
        sa.Column("journey_id", sa.String(length=36), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column(
            "beneficiary_id",
            sa.String(length=36),
            sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("territory", sa.String(length=3), nullable=False),
        sa.Column("structure_id", sa.String(length=36)),
        sa.Column("case_id", sa.String(length=64)),
        sa.Column("on_time", sa.Boolean()),
        sa.Column("reason", sa.String(length=30)),
    )
    op.create_index(
        "ix_journey_procedure_events_beneficiary_id",
        "journey_procedure_events",
        ["beneficiary_id"],
    )
    op.create_index(
        "ix_journey_procedure_events_territory_day",
        "journey_procedure_events",
        ["territory", "occurred_on"],
    )
    op.create_index("ix_journey_procedure_events_case", "journey_procedure_events", ["case_id"])


def _backfill_orientations() -> None:
    """Journeys oriented before: the track of their first orientation and who decided it (the
    département, unless the event says France Travail), so the comités' figures count them."""
    events = sa.table(
        "journey_events",
        sa.column("journey_id", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("detail", sa.JSON),
    )
    milestones = sa.table(
        "journey_milestones",
        sa.column("journey_id", sa.String),
        sa.column("orientation", sa.String),
        sa.column("oriented_by", sa.String),
    )
    bind = op.get_bind()
    first: dict[str, dict[str, str | None]] = {}
    rows = bind.execute(
        sa.select(events.c.journey_id, events.c.detail)
        .where(events.c.kind == "orientation_decided")
        .order_by(events.c.journey_id, events.c.seq)
    )
    for journey_id, detail in rows:
        if journey_id not in first:
            detail = detail or {}
            orientation = detail.get("orientation")
            by = detail.get("decided_by")
            first[journey_id] = {
                "j": journey_id,
                "o": orientation if isinstance(orientation, str) else None,
                "by": "france_travail" if by == "france_travail" else "department",
            }
    update = (
        sa.update(milestones)
        .where(milestones.c.journey_id == sa.bindparam("j"))
        .values(orientation=sa.bindparam("o"), oriented_by=sa.bindparam("by"))
    )
    batch = list(first.values())
    for start in range(0, len(batch), 2000):
        bind.execute(update, batch[start : start + 2000])


def downgrade() -> None:
    op.drop_table("journey_procedure_events")
    with op.batch_alter_table("journey_milestones") as batch:
        for name in ("transferred_in_on", "subject_to_duties", "oriented_by", "orientation"):
            batch.drop_column(name)
        batch.drop_column("exit_code")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("exit_code")
    op.drop_table("exit_codes")
