"""why each source's last run ended as it did

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('source_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_states', schema=None) as batch_op:
        batch_op.drop_column('last_reason')
