"""a consent says how it was given (in the person's space, in person, on paper) and keeps the
signed form when on paper

Revision ID: 0017
Revises: 0016
Create Date: 2027-01-11 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        # self_service, in_person or paper; unknown for consents recorded before this column.
        batch.add_column(sa.Column("method", sa.String(length=20), nullable=True))
        # The signed form, a document of the carnet (a consent on paper).
        batch.add_column(sa.Column("document_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            "fk_consents_document", "documents", ["document_id"], ["id"], ondelete="SET NULL"
        )
    # Until now only the person's own space and the référent's API call wrote consents: the
    # ones the person's own account changed were given in her space. The others stay unknown
    # rather than guessed.
    op.execute(
        """
        UPDATE consents SET method = 'self_service'
        WHERE EXISTS (
            SELECT 1 FROM users
            WHERE users.id = consents.changed_by
              AND users.beneficiary_id = consents.beneficiary_id
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_constraint("fk_consents_document", type_="foreignkey")
        batch.drop_column("document_id")
        batch.drop_column("method")
