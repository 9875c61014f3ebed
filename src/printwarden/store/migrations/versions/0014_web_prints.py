"""``web_prints``: documents handed to a server by Web Print and Email to Print.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "web_prints",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=300), nullable=True),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("queue_kind", sa.String(length=16), nullable=False),
        sa.Column("printer", sa.String(length=128), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("detected", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("submit", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("colour_pages", sa.Integer(), nullable=False),
        sa.Column("paper_size", sa.String(length=32), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=True),
        sa.Column("document", sa.String(length=80), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("provider_job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_prints_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_prints")),
        sa.UniqueConstraint("source_key", name=op.f("uq_web_prints_source_key")),
    )
    with op.batch_alter_table("web_prints", schema=None) as batch_op:
        batch_op.create_index("ix_web_prints_user_created", ["user_id", "created_at"])
        batch_op.create_index("ix_web_prints_provider_stage", ["provider", "stage"])


def downgrade() -> None:
    with op.batch_alter_table("web_prints", schema=None) as batch_op:
        batch_op.drop_index("ix_web_prints_provider_stage")
        batch_op.drop_index("ix_web_prints_user_created")
    op.drop_table("web_prints")
