"""Recurring series (``tasking.series``): ``series`` (one row per series: its name, contract,
shared options, targets, window length, recurrence and status) and ``series_occurrences`` (one row
per occurrence: its window, when it comes within ICEYE's 14-day reach, its state and the campaign
that orders it).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("window_s", sa.Integer, nullable=False),
        sa.Column("recurrence", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "series_occurrences",
        sa.Column(
            "series_id",
            sa.String(36),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("window_start", UTC_DATETIME, nullable=False),
        sa.Column("window_end", UTC_DATETIME, nullable=False),
        sa.Column("order_at", UTC_DATETIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("ordered_at", UTC_DATETIME, nullable=True),
    )
    op.create_index("ix_series_occurrences_due", "series_occurrences", ["state", "order_at"])


def downgrade() -> None:
    op.drop_index("ix_series_occurrences_due", table_name="series_occurrences")
    op.drop_table("series_occurrences")
    op.drop_table("series")
