"""Print URLs replicate to sites: ``print_tokens.change_seq``.

Print URLs made before this revision get one new change number, so a site that already
holds the changes up to the counter receives them with its next pull.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("print_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.create_index(
            batch_op.f("ix_print_tokens_change_seq"), ["change_seq"], unique=False
        )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM print_tokens")).scalar_one():
        # One transaction's number, taken as the application takes it (store/changes.py).
        bind.execute(sa.text("UPDATE change_counter SET value = value + 1 WHERE id = 1"))
        bind.execute(
            sa.text(
                "UPDATE print_tokens SET change_seq = "
                "(SELECT value FROM change_counter WHERE id = 1)"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("print_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_tokens_change_seq"))
        batch_op.drop_column("change_seq")
