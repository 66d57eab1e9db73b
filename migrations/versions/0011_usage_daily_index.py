"""index that serves the account's 30-day usage (its predictions by creation time)

Revision ID: 0011_usage
Revises: 0009_two_factor
Create Date: 2026-12-04 03:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_usage'
down_revision = '0009_two_factor'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_user_id_created_at', ['user_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_user_id_created_at')
