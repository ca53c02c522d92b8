"""authorization codes carry action claims; users remember a dismissed passkey prompt

Revision ID: 0003_login_claims
Revises: 0002_push_challenges
Create Date: 2026-11-24 00:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_login_claims"
down_revision = "0002_push_challenges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claims", sa.JSON(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passkey_prompt_dismissed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("passkey_prompt_dismissed_at")
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("claims")
