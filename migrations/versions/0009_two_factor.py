"""two-factor sign-in: TOTP secrets (encrypted) and one-time recovery codes (hashed)

Revision ID: 0009_two_factor
Revises: 0007_sessions
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import proxyapp.models

# revision identifiers, used by Alembic.
revision = '0009_two_factor'
down_revision = '0007_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('two_factor',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', proxyapp.models.EncryptedJSON(), nullable=False),
    sa.Column('created_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_two_factor_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_two_factor'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', proxyapp.models.UTCDateTime(), nullable=False),
    sa.Column('used_at', proxyapp.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
    op.drop_table('two_factor')
