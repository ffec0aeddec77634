"""next run

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:04:24.619700
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('source_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('source_states', schema=None) as batch_op:
        batch_op.drop_column('next_run_at')

