"""authoritative events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 20:48:40.825590
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authoritative', sa.Boolean(), server_default=sa.text('false'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('authoritative')

