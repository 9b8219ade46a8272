"""Campaigns (``tasking.campaigns``): ``campaigns`` (one row per batch of orders: its name,
contract, shared options and status) and ``campaign_targets`` (one row per target, in order, with
the exact request it sends and the order journal's key and task id once it has them).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "campaign_targets",
        sa.Column(
            "campaign_id",
            sa.String(36),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("order_key", sa.String(36), nullable=True),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_campaign_targets_task_id", "campaign_targets", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_targets_task_id", table_name="campaign_targets")
    op.drop_table("campaign_targets")
    op.drop_table("campaigns")
