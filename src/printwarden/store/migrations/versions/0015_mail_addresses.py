"""``mail_addresses``: the addresses a user's mail to Email to Print may come from.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_addresses",
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mail_addresses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_mail_addresses")),
    )
    with op.batch_alter_table("mail_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_addresses_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mail_addresses_change_seq"), ["change_seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_addresses_change_seq"))
        batch_op.drop_index(batch_op.f("ix_mail_addresses_user_id"))
    op.drop_table("mail_addresses")
