"""call reservations

Revision ID: 0006
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reservations',
    sa.Column('call_id', sa.String(length=200), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('call_type', sa.String(length=24), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=False),
    sa.Column('callee', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('organizer_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('funding', sa.String(length=10), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('granted_s', sa.Integer(), nullable=True),
    sa.Column('pool_period', sa.String(length=7), nullable=True),
    sa.Column('pool_product', sa.String(length=40), nullable=True),
    sa.Column('pool_kind', sa.String(length=16), nullable=True),
    sa.Column('pool_country', sa.String(length=2), nullable=True),
    sa.Column('pool_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'settled', 'expired', 'denied')", name=op.f('ck_reservations_status')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_reservations_amount_not_negative')),
    sa.CheckConstraint('pool_minutes >= 0', name=op.f('ck_reservations_pool_minutes_not_negative')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reservations_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_reservations')),
    sa.UniqueConstraint('id', name=op.f('uq_reservations_id'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_status_expires_at'), ['status', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_tenant_id_status'), ['tenant_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_tenant_id_status'))
        batch_op.drop_index(batch_op.f('ix_reservations_status_expires_at'))

    op.drop_table('reservations')
