"""indexes that serve the listing in id order (no sort of a caller's rows)

Revision ID: 0005_listing
Revises: 0004_api
Create Date: 2026-12-02 13:05:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_listing'
down_revision = '0004_api'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('ix_predictions_user_status_id', ['user_id', 'status', 'id'], unique=False)
        batch_op.drop_index('ix_predictions_user_status')
        batch_op.drop_index('ix_predictions_user_id')


def downgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_predictions_user_status', ['user_id', 'status'], unique=False)
        batch_op.drop_index('ix_predictions_user_status_id')
        batch_op.drop_index('ix_predictions_user_id_id')
