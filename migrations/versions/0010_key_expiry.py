"""keys remember when they were rotated (expires_at also carries an expiry chosen by the owner)

Revision ID: 0010_key_expiry
Revises: 0011_usage
Create Date: 2026-12-04 03:00:00

"""
import sqlalchemy as sa
from alembic import op

import proxyapp.models

# revision identifiers, used by Alembic.
revision = '0010_key_expiry'
down_revision = '0011_usage'
branch_labels = None
depends_on = None

# Until this revision only rotation set expires_at, so every key with one was rotated. Its
# replacement was issued in the same transaction under the same name: the earliest later key
# of that name gives the rotation time; the grace end (an upper bound) stands in otherwise.
BACKFILL_ROTATED_AT = """
UPDATE api_keys SET rotated_at = COALESCE(
    (SELECT MIN(successor.created_at) FROM api_keys AS successor
      WHERE successor.user_id = api_keys.user_id AND successor.name = api_keys.name
        AND successor.created_at >= api_keys.created_at AND successor.id > api_keys.id),
    expires_at)
WHERE expires_at IS NOT NULL
"""


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rotated_at', proxyapp.models.UTCDateTime(), nullable=True))
    op.execute(BACKFILL_ROTATED_AT)


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('rotated_at')
