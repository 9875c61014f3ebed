"""Components bound to what they are; no provider credential at the server.

- ``providers.control_token`` goes: the server no longer pushes orders to a provider with a
  bearer token it had to keep in plaintext (and copy to every site's replica). It records
  the order on the held job (``held_jobs.order_id``, ``pending_order``) and rings the
  provider's doorbell, which carries no secret; the provider fetches its orders with its own
  token.
- ``api_tokens.site``: a provider token may be bound to a site (it then claims only printers
  of that site or of none).

Provider tokens made before this revision carry no ``provider:<name>`` scope. They are not
bound here: a token's ``name`` is a free label (often empty), and the server never recorded
which token registered which provider. Such a token is bound at its next registration (every
provider registers at start-up), to the name it registers — unless another live token is
bound to that name already (``service/routes/providers.py``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("control_token")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=64), nullable=True))
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("order_id", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("pending_order", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.create_index(
            "ix_held_jobs_provider_order", ["provider_id", "order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_held_jobs_provider_order")
        batch_op.drop_column("pending_order")
        batch_op.drop_column("order_id")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("site")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("control_token", sa.String(length=256), nullable=False, server_default="")
        )
