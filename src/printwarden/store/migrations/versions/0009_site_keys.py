"""Per-site keys: sealed card and identity numbers, a password stamp, a site's key generation.

- ``user_cards.sealed``, ``users.identity_sealed``: the numbers sealed under a key derived
  from HQ's secret, so HQ can hash them under each site's own key. Rows stored before this
  revision have none (HQ only ever kept their hash): they keep working at HQ, are not sent
  to sites, and setting or importing the number again seals it.
- ``users.password_stamp``: what web sessions are bound to instead of the password hash (which
  no longer goes to sites). Users with a password get a random one here; their open web
  sessions end once, at this upgrade.
- ``sites.key_generation``: which card key a site has; an administrator raises it to re-key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("password_stamp", sa.String(length=32), nullable=True))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_generation", sa.Integer(), nullable=False, server_default="1")
        )
    _stamp_passwords()


def _stamp_passwords() -> None:
    users = sa.table(
        "users", sa.column("id", sa.Integer), sa.column("password_hash", sa.String),
        sa.column("password_stamp", sa.String),
    )  # fmt: skip
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(
        sa.select(users.c.id).where(users.c.password_hash.is_not(None))
    )]  # fmt: skip
    update = users.update().where(users.c.id == sa.bindparam("uid"))
    for start in range(0, len(ids), 5000):
        rows = [{"uid": i, "stamp": secrets.token_hex(8)} for i in ids[start : start + 5000]]
        bind.execute(update.values(password_stamp=sa.bindparam("stamp")), rows)


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("key_generation")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_stamp")
        batch_op.drop_column("identity_sealed")
    with op.batch_alter_table("user_cards", schema=None) as batch_op:
        batch_op.drop_column("sealed")
