"""The ledger and the job log reference users, accounts and printers without foreign keys;
those three tables refuse DELETE instead (they are only ever soft-deleted).

PostgreSQL checks a foreign key with one locking query per inserted row: four per printed
job, a third of a reconciliation batch's database time. A referenced row could only go
missing through a DELETE, which now fails; and every id written comes from a lookup in the
same transaction. See docs/architecture.md, "Ledger rows and soft deletes".

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, column, referenced table) as 0001 created them.
_KEYS = (
    ("transactions", "fk_transactions_account_id_accounts", "account_id", "accounts"),
    ("print_jobs", "fk_print_jobs_account_id_accounts", "account_id", "accounts"),
    ("print_jobs", "fk_print_jobs_printer_id_printers", "printer_id", "printers"),
    ("print_jobs", "fk_print_jobs_user_id_users", "user_id", "users"),
)
KEPT = ("users", "accounts", "printers")  # soft-deleted only: the ledger names them for ever
_MESSAGE = "rows of this table are never deleted: set deleted_at instead"


def upgrade() -> None:
    for table, name, _column, _referenced in _KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
    for table in KEPT:
        for statement in _guard(table, op.get_bind().dialect.name):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in KEPT:
        op.execute(
            f"DROP TRIGGER IF EXISTS tr_{table}_kept"
            + (f" ON {table}" if dialect == "postgresql" else "")
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS refuse_delete()")
    for table, name, column, referenced in _KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(name, referenced, [column], ["id"])


def _guard(table: str, dialect: str) -> list[str]:
    """The statements that make ``table`` refuse DELETE (table names are our own literals)."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN RAISE EXCEPTION '%: {_MESSAGE}', TG_TABLE_NAME"
            " USING ERRCODE = 'restrict_violation'; END $$",
            f"CREATE TRIGGER tr_{table}_kept BEFORE DELETE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete()",
        ]
    return [
        f"CREATE TRIGGER tr_{table}_kept BEFORE DELETE ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table}: {_MESSAGE}'); END"
    ]
