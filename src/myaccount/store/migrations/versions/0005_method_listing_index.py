"""authentication methods: one index on (user_id, created_at, id) in place of the one on user_id

The list endpoint reads a user's methods oldest first; with the order in the index, SQLite and PostgreSQL read
them in order instead of sorting them on every request. Every other query on user_id uses its first column.

Revision ID: 0005_method_listing_index
Revises: 0004_connected_accounts
Create Date: 2026-11-24 06:30:00
"""

from alembic import op

revision = "0005_method_listing_index"
down_revision = "0004_connected_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authentication_methods", schema=None) as batch_op:
        batch_op.create_index("ix_authentication_methods_user_listing", ["user_id", "created_at", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_authentication_methods_user_id"))


def downgrade() -> None:
    with op.batch_alter_table("authentication_methods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authentication_methods_user_id"), ["user_id"], unique=False)
        batch_op.drop_index("ix_authentication_methods_user_listing")
