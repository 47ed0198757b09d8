"""resources: data·inclusion structures and services, their search rows, tags and words,
trainings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _place_columns() -> list[sa.Column]:
    return [
        sa.Column("adresse", sa.String(length=300), nullable=True),
        sa.Column("complement_adresse", sa.String(length=300), nullable=True),
        sa.Column("code_postal", sa.String(length=5), nullable=True),
        sa.Column("code_insee", sa.String(length=5), nullable=True),
        sa.Column("commune", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("telephone", sa.String(length=50), nullable=True),
        sa.Column("courriel", sa.String(length=254), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "resource_structures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("nom", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("siret", sa.String(length=14), nullable=True),
        *_place_columns(),
        sa.Column("site_web", sa.String(length=500), nullable=True),
        sa.Column("horaires_accueil", sa.Text(), nullable=True),
        sa.Column("date_maj", sa.Date(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("imported_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resource_structures"),
        sa.UniqueConstraint("source", "source_id", name="uq_resource_structures_source_id"),
    )
    op.create_table(
        "resource_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("structure_source_id", sa.String(length=200), nullable=False),
        sa.Column("nom", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=True),
        sa.Column("thematiques", sa.JSON(), nullable=False),
        sa.Column("frais", sa.String(length=20), nullable=True),
        sa.Column("frais_precisions", sa.Text(), nullable=True),
        sa.Column("publics", sa.JSON(), nullable=False),
        sa.Column("publics_precisions", sa.Text(), nullable=True),
        sa.Column("conditions_acces", sa.Text(), nullable=True),
        *_place_columns(),
        sa.Column("contact_nom_prenom", sa.String(length=200), nullable=True),
        sa.Column("modes_accueil", sa.JSON(), nullable=False),
        sa.Column("zone_eligibilite", sa.JSON(), nullable=True),
        sa.Column("lien_source", sa.String(length=500), nullable=True),
        sa.Column("lien_mobilisation", sa.String(length=500), nullable=True),
        sa.Column("modes_mobilisation", sa.JSON(), nullable=False),
        sa.Column("mobilisable_par", sa.JSON(), nullable=False),
        sa.Column("mobilisation_precisions", sa.Text(), nullable=True),
        sa.Column("volume_horaire_hebdomadaire", sa.Double(), nullable=True),
        sa.Column("nombre_semaines", sa.Integer(), nullable=True),
        sa.Column("horaires_accueil", sa.Text(), nullable=True),
        sa.Column("date_maj", sa.Date(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("imported_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resource_services"),
        sa.UniqueConstraint("source", "source_id", name="uq_resource_services_source_id"),
    )
    op.create_index(
        "ix_resource_services_structure",
        "resource_services",
        ["source", "structure_source_id"],
    )
    op.create_table(
        "resource_service_search",
        sa.Column("service_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=True),
        sa.Column("frais", sa.String(length=20), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("nom", sa.String(length=150), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("publics", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["resource_services.id"],
            name="fk_resource_service_search_service",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", name="pk_resource_service_search"),
    )

    op.create_table(
        "resource_service_tags",
        sa.Column("tag", sa.String(length=120), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["resource_services.id"],
            name="fk_resource_service_tags_service",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tag", "service_id", name="pk_resource_service_tags"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resource_service_tags_service", "resource_service_tags", ["service_id"])
    op.create_table(
        "resource_service_words",
        # Byte order on PostgreSQL too, so that a prefix is a range of the index.
        sa.Column(
            "word",
            sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["resource_services.id"],
            name="fk_resource_service_words_service",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("word", "service_id", name="pk_resource_service_words"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resource_service_words_service", "resource_service_words", ["service_id"])

    op.create_table(
        "trainings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("funder", sa.String(length=20), nullable=False),
        sa.Column("formacode", sa.String(length=5), nullable=True),
        sa.Column("rncp", sa.String(length=12), nullable=True),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("places_left", sa.Integer(), nullable=True),
        sa.Column("weekly_hours", sa.Double(), nullable=True),
        sa.Column("weeks", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trainings"),
        sa.UniqueConstraint("reference", name="uq_trainings_reference"),
    )
    op.create_index("ix_trainings_funder_start", "trainings", ["funder", "start_on"])
    op.create_index("ix_trainings_lat_lon", "trainings", ["latitude", "longitude"])


def downgrade() -> None:
    op.drop_index("ix_trainings_lat_lon", table_name="trainings")
    op.drop_index("ix_trainings_funder_start", table_name="trainings")
    op.drop_table("trainings")
    op.drop_index("ix_resource_service_words_service", table_name="resource_service_words")
    op.drop_table("resource_service_words")
    op.drop_index("ix_resource_service_tags_service", table_name="resource_service_tags")
    op.drop_table("resource_service_tags")
    op.drop_table("resource_service_search")
    op.drop_index("ix_resource_services_structure", table_name="resource_services")
    op.drop_table("resource_services")
    op.drop_table("resource_structures")
