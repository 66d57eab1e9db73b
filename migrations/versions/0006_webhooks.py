"""webhooks: targets on predictions and batches, signing keys, deliveries

Revision ID: 0006_webhooks
Revises: 0005_listing
Create Date: 2026-12-02 16:39:48.836298

"""
import sqlalchemy as sa
from alembic import op

import proxyapp.models

# revision identifiers, used by Alembic.
revision = '0006_webhooks'
down_revision = '0005_listing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('prediction_id', sa.String(length=26), nullable=True),
    sa.Column('batch_id', sa.String(length=26), nullable=True),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('payload', proxyapp.models.JSONText(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.Column('created_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('last_attempt_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.Column('next_attempt_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.Column('completed_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webhook_deliveries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_prediction_id'), ['prediction_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_user_id_created_at', ['user_id', 'created_at'], unique=False)

    op.create_table('webhook_signing_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', proxyapp.models.EncryptedJSON(), nullable=False),
    sa.Column('previous_secret', proxyapp.models.EncryptedJSON(), nullable=True),
    sa.Column('previous_expires_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('rotated_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webhook_signing_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_webhook_signing_keys'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('webhook_events', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('webhook_origin', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('completed_at', proxyapp.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('webhook_events', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('webhook_origin', sa.String(length=255), nullable=True))



def downgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('webhook_origin')
        batch_op.drop_column('webhook_events')
        batch_op.drop_column('webhook')

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('completed_at')
        batch_op.drop_column('webhook_origin')
        batch_op.drop_column('webhook_events')
        batch_op.drop_column('webhook')

    op.drop_table('webhook_signing_keys')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_user_id_created_at')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_prediction_id'))
        batch_op.drop_index('ix_webhook_deliveries_state_next_attempt_at')
        batch_op.drop_index('ix_webhook_deliveries_created_at')

    op.drop_table('webhook_deliveries')
