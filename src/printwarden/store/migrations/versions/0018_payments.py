"""Payments, top-up cards, cash kiosks and refund requests.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    _payments()
    _vouchers()
    _cash()
    op.create_table(
        "refund_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("charge_txn", sa.String(length=40), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("refund_txn", sa.String(length=40), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_requests")),
        sa.UniqueConstraint("charge_txn", name=op.f("uq_refund_requests_charge_txn")),
    )
    op.create_index(op.f("ix_refund_requests_user_id"), "refund_requests", ["user_id"])
    op.create_index(op.f("ix_refund_requests_status"), "refund_requests", ["status"])


def _payments() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_ref", sa.String(length=128), nullable=False),
        sa.Column("intent_ref", sa.String(length=128), nullable=False),
        sa.Column("credit_txn", sa.String(length=40), nullable=False),
        sa.Column("reversal_txn", sa.String(length=40), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at"])
    op.create_index(op.f("ix_payments_intent_ref"), "payments", ["intent_ref"])
    op.create_table(
        "payment_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("intent_ref", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint("gateway", "event_id", name=op.f("uq_payment_events_gateway_event_id")),
    )
    for column in ("payment_id", "intent_ref", "received_at"):
        op.create_index(op.f(f"ix_payment_events_{column}"), "payment_events", [column])


def _vouchers() -> None:
    op.create_table(
        "voucher_batches",
        sa.Column("id", ID, nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_until", WHEN, nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expired_at", WHEN, nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_batches")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_voucher_batches_batch_id")),
    )
    op.create_index(op.f("ix_voucher_batches_change_seq"), "voucher_batches", ["change_seq"])
    op.create_table(
        "vouchers",
        sa.Column("id", ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("redeemed_at", WHEN, nullable=True),
        sa.Column("redeemed_by", ID, nullable=True),
        sa.Column("redeemed_where", sa.String(length=80), nullable=False),
        sa.Column("txn_id", sa.String(length=40), nullable=False),
        sa.Column("expired_at", WHEN, nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["voucher_batches.id"], name=op.f("fk_vouchers_batch_id_voucher_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_vouchers_code_hash")),
    )
    op.create_index(op.f("ix_vouchers_batch_id"), "vouchers", ["batch_id"])
    op.create_index(op.f("ix_vouchers_change_seq"), "vouchers", ["change_seq"])


def _cash() -> None:
    op.create_table(
        "cash_insertions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("insertion_id", sa.String(length=160), nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("txn_id", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_insertions")),
        sa.UniqueConstraint("insertion_id", name=op.f("uq_cash_insertions_insertion_id")),
        sa.UniqueConstraint("txn_id", name=op.f("uq_cash_insertions_txn_id")),
    )
    op.create_index(
        "ix_cash_insertions_device_created", "cash_insertions", ["device_id", "created_at"]
    )
    op.create_table(
        "cash_collections",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("recorded", sa.BigInteger(), nullable=False),
        sa.Column("insertions", sa.Integer(), nullable=False),
        sa.Column("last_insertion", sa.BigInteger(), nullable=False),
        sa.Column("collected_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("collected_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_collections")),
    )
    op.create_index(op.f("ix_cash_collections_device_id"), "cash_collections", ["device_id"])


def downgrade() -> None:
    for table in ("refund_requests", "cash_collections", "cash_insertions", "vouchers",
                  "voucher_batches", "payment_events", "payments"):  # fmt: skip
        op.drop_table(table)
