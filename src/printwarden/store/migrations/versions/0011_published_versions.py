"""``published_versions``: every version of prices and print scripts HQ published, so that a
site's offline charge can be explained by what the site had; ``journal_applied.rejected``:
entries HQ refused, recorded with their reason. Today's prices and scripts are the first
versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from printwarden.domain.charges import prices_digest, script_digest
from printwarden.domain.costs import CostModel, PagePrices

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table(
        "published_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_versions")),
        sa.UniqueConstraint(
            "kind", "subject", "digest", name=op.f("uq_published_versions_kind_subject_digest")
        ),
    )
    with op.batch_alter_table("journal_applied", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rejected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    assert versions is not None
    rows = list(_current(op.get_bind()))
    if rows:
        op.bulk_insert(versions, rows)


def _current(connection: sa.Connection) -> Any:
    """Today's prices of every printer and device, and today's print scripts."""
    now = datetime.now(UTC)
    for kind, table in (("printer", "printers"), ("device", "devices")):
        found = sa.table(table, sa.column("name", sa.String), sa.column("cost_model", sa.JSON))
        for name, model in connection.execute(sa.select(found.c.name, found.c.cost_model)):
            yield {"kind": kind, "subject": name, "digest": prices_digest(_model(model or {})),
                   "content": model or {}, "published_at": now}  # fmt: skip
    settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.JSON))
    for key, value in connection.execute(sa.select(settings.c.key, settings.c.value)):
        printer = _script_scope(str(key))
        if printer is not None and value and value.get("source"):
            yield {"kind": "script", "subject": printer,
                   "digest": script_digest(str(value["source"])), "content": {},
                   "published_at": now}  # fmt: skip


def _script_scope(key: str) -> str | None:
    if key == "scripts":
        return ""
    return key.removeprefix("scripts.printer.") if key.startswith("scripts.printer.") else None


def _model(data: dict[str, Any]) -> CostModel:
    sizes = {name: PagePrices(**prices) for name, prices in data.get("sizes", {}).items()}
    return CostModel(
        sizes=sizes,
        base_cost=int(data.get("base_cost", 0)),
        group_modifiers={k: int(v) for k, v in data.get("group_modifiers", {}).items()},
    )


def downgrade() -> None:
    with op.batch_alter_table("journal_applied", schema=None) as batch_op:
        batch_op.drop_column("rejected")
    op.drop_table("published_versions")
