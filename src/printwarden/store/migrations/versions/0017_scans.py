"""Integrated Scanning: the ``scans`` a server takes, and a device's ``escl_url``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("escl_url", sa.String(length=512), nullable=False, server_default="")
        )
    op.create_table(
        "scans",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("destination", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("usage_id", sa.String(length=40), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("delivered_to", sa.Text(), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.Column("download_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("usage_id", name=op.f("uq_scans_usage_id")),
    )
    op.create_index("ix_scans_stage_next", "scans", ["stage", "next_attempt_at"], unique=False)
    op.create_index("ix_scans_user_created", "scans", ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scans_user_created", table_name="scans")
    op.drop_index("ix_scans_stage_next", table_name="scans")
    op.drop_table("scans")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("escl_url")
