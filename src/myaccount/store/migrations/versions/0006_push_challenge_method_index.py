"""push challenges: an index on method_id, the column that references authentication_methods

Every DELETE of an authentication method (any type) makes the database find the push challenges that point at
it, to set their method_id to NULL. Without an index on the referencing column that is a scan of the whole
push_challenges table on SQLite and on PostgreSQL, per deleted method, and the table grows with every push.

Revision ID: 0006_push_challenge_method_index
Revises: 0005_method_listing_index
Create Date: 2026-11-24 08:10:00
"""

from alembic import op

revision = "0006_push_challenge_method_index"
down_revision = "0005_method_listing_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_push_challenges_method_id", "push_challenges", ["method_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_push_challenges_method_id", table_name="push_challenges")
