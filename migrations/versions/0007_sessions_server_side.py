"""server-side sign-in sessions (a row per session; logout deletes it)

Revision ID: 0007_sessions
Revises: 0006_webhooks
Create Date: 2026-12-02 17:00:00

"""
import sqlalchemy as sa
from alembic import op

import proxyapp.models

# revision identifiers, used by Alembic.
revision = '0007_sessions'
down_revision = '0006_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
