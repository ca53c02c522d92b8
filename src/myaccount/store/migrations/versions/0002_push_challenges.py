"""push challenges and device-proof ids (myaccount.store.push)

Revision ID: 0002_push_challenges
Revises: 0001
Create Date: 2026-11-24 00:10:47.627720
"""

import sqlalchemy as sa
from alembic import op


revision = '0002_push_challenges'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_device_jtis',
    sa.Column('jkt', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jkt', 'jti', name=op.f('pk_push_device_jtis'))
    )
    with op.batch_alter_table('push_device_jtis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_device_jtis_expires_at'), ['expires_at'], unique=False)

    op.create_table('push_challenges',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=100), nullable=False),
    sa.Column('method_id', sa.String(length=128), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['method_id'], ['authentication_methods.id'], name=op.f('fk_push_challenges_method_id_authentication_methods'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_challenges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_challenges'))
    )
    with op.batch_alter_table('push_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_push_challenges_expires_at', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_challenges_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('push_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_challenges_user_id'))
        batch_op.drop_index('ix_push_challenges_expires_at')

    op.drop_table('push_challenges')
    with op.batch_alter_table('push_device_jtis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_device_jtis_expires_at'))

    op.drop_table('push_device_jtis')
