"""connections (upstream OAuth 2.0 / OIDC providers), connected accounts (the Token Vault), connect requests

Revision ID: 0004_connected_accounts
Revises: 0003_login_claims
Create Date: 2026-11-24 00:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0004_connected_accounts'
down_revision = '0003_login_claims'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connections',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('display_name', sa.String(length=300), nullable=True),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('client_secret', sa.Text(), nullable=True),
    sa.Column('connected_accounts_active', sa.Boolean(), nullable=False),
    sa.Column('enabled_clients', sa.JSON(), nullable=True),
    sa.Column('connection_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_connections_name'))
    )
    op.create_table('connect_requests',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('ticket_hash', sa.String(length=128), nullable=False),
    sa.Column('binding_hash', sa.String(length=128), nullable=True),
    sa.Column('code_hash', sa.String(length=128), nullable=True),
    sa.Column('user_id', sa.String(length=100), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('connection_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_connect_requests_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_connect_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connect_requests')),
    sa.UniqueConstraint('binding_hash', name=op.f('uq_connect_requests_binding_hash')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_connect_requests_code_hash')),
    sa.UniqueConstraint('ticket_hash', name=op.f('uq_connect_requests_ticket_hash'))
    )
    with op.batch_alter_table('connect_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connect_requests_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index('ix_connect_requests_expires_at', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_connect_requests_user_id'), ['user_id'], unique=False)

    op.create_table('connected_accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=100), nullable=False),
    sa.Column('connection_id', sa.String(length=32), nullable=False),
    sa.Column('upstream_user_id', sa.String(length=255), nullable=True),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('access_token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('refresh_token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_connected_accounts_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_connected_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connected_accounts')),
    sa.UniqueConstraint('user_id', 'connection_id', name='uq_connected_accounts_user_connection')
    )
    with op.batch_alter_table('connected_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connected_accounts_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connected_accounts_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('connected_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connected_accounts_user_id'))
        batch_op.drop_index(batch_op.f('ix_connected_accounts_connection_id'))

    op.drop_table('connected_accounts')
    with op.batch_alter_table('connect_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connect_requests_user_id'))
        batch_op.drop_index('ix_connect_requests_expires_at')
        batch_op.drop_index(batch_op.f('ix_connect_requests_connection_id'))

    op.drop_table('connect_requests')
    op.drop_table('connections')
