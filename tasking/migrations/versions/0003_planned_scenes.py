"""The task history's ``planned_scenes``: the last planned scene the app saw of each task, and
when it first saw that plan (``tasking.history``), so that the Monitor still shows the plan after
a reload, when ICEYE's scene endpoint already gives the captured scene.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "planned_scenes",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("scene", sa.Text, nullable=False),
        sa.Column("seen_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("planned_scenes")
