"""The tasking desk: what the background worker follows and tells people (``tasking.desk``).

``followed_tasks`` (one row per task the worker follows, with its scene, products and quicklook),
``notifications`` (one per task and kind), ``deliveries`` (one per notification and channel: the
outbox), ``callbacks_received`` (webhook events already taken, against replays), ``worker_lease``
(which worker is active) and ``worker_settings`` (the registered webhook).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "followed_tasks",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("final", sa.Boolean, nullable=False, default=False),
        sa.Column("created_at", UTC_DATETIME, nullable=True),
        sa.Column("status_at", UTC_DATETIME, nullable=True),
        sa.Column("checked_at", UTC_DATETIME, nullable=True),
        sa.Column("due_at", UTC_DATETIME, nullable=True),
        sa.Column("details_for", sa.String(32), nullable=True),
        sa.Column("planned_scene", sa.Text, nullable=True),
        sa.Column("actual_scene", sa.Text, nullable=True),
        sa.Column("products", sa.Text, nullable=True),
        sa.Column("quicklook", sa.LargeBinary, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("fetch_errors", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("via_webhook", sa.Boolean, nullable=False, default=False),
    )
    op.create_index("ix_followed_tasks_due", "followed_tasks", ["final", "due_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("read_at", UTC_DATETIME, nullable=True),
        sa.UniqueConstraint("task_id", "kind", name="uq_notification_task_kind"),
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("notification_id", "channel", name="uq_delivery_channel"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "callbacks_received",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=True),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_callbacks_received_at", "callbacks_received", ["received_at"])
    op.create_table(
        "worker_lease",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=False),
        sa.Column("info", sa.Text, nullable=False),
    )
    op.create_table(
        "worker_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "worker_settings",
        "worker_lease",
        "callbacks_received",
        "deliveries",
        "notifications",
        "followed_tasks",
    ):
        op.drop_table(table)
