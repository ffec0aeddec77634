"""alerting state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:51:52.516344
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_state', sa.String(length=16), server_default='baseline', nullable=False))
        batch_op.create_index('ix_events_alert_state', ['alert_state'], unique=False)

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failures', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('failures')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_alert_state')
        batch_op.drop_column('alert_state')

