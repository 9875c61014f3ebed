"""Questions before printing: a printer's ``client_rules``, a held job's open ``question``
and the ``comment`` given with its answer.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("printers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_rules", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("answer_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_held_jobs_answer_by"), ["answer_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_jobs_answer_by"))
        batch_op.drop_column("comment")
        batch_op.drop_column("answer_by")
        batch_op.drop_column("question")
    with op.batch_alter_table("printers", schema=None) as batch_op:
        batch_op.drop_column("client_rules")
