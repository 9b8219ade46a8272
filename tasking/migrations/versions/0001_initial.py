"""The store as ``metadata.create_all`` made it before migrations: the task history's
``task_documents`` and ``task_status_events`` and the order journal's ``orders``.

A store made before migrations has these tables (or only the history's, from before the journal)
and no ``alembic_version``. It is adopted as it is: a table that exists already is kept, data and
all, and only the missing ones are created; then the store is at this revision like any other.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# tasking.store.UtcDateTime's column type; revisions never import the app's code, which moves on.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "task_documents" not in existing:
        op.create_table(
            "task_documents",
            sa.Column("task_id", sa.String(64), primary_key=True),
            sa.Column("created_at", UTC_DATETIME, nullable=False),
            sa.Column("updated_at", UTC_DATETIME, nullable=True),
            sa.Column("document", sa.Text, nullable=False),
        )
        op.create_index("ix_task_documents_created_at", "task_documents", ["created_at"])
    if "task_status_events" not in existing:
        op.create_table(
            "task_status_events",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task_id", sa.String(64), nullable=False),
            sa.Column("status", sa.String(32), nullable=False),
            sa.Column("seen_at", UTC_DATETIME, nullable=False),
            sa.UniqueConstraint("task_id", "status", name="uq_task_status"),
        )
    if "orders" not in existing:
        op.create_table(
            "orders",
            sa.Column("key", sa.String(36), primary_key=True),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("active", sa.String(64), nullable=True),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("contract_id", sa.String(64), nullable=False),
            sa.Column("reference", sa.Text, nullable=True),
            sa.Column("request", sa.Text, nullable=False),
            sa.Column("task_id", sa.String(64), nullable=True),
            sa.Column("sent_at", UTC_DATETIME, nullable=False),
            sa.Column("journaled_at", UTC_DATETIME, nullable=False),
            sa.Column("updated_at", UTC_DATETIME, nullable=False),
            sa.Column("error", sa.Text, nullable=True),
            sa.UniqueConstraint("active"),
        )
        op.create_index("ix_orders_fingerprint", "orders", ["fingerprint"])
        op.create_index("ix_orders_state", "orders", ["state"])


def downgrade() -> None:
    for table in ("orders", "task_status_events", "task_documents"):
        op.drop_table(table)
