"""payments and auto-recharge: settings, in-flight guard, receipts

Revision ID: 0004
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auto_recharge',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('trigger', sa.BigInteger(), nullable=False),
    sa.Column('payment_method_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_retry_at', sa.DateTime(), nullable=True),
    sa.Column('in_flight_attempt_id', sa.String(length=36), nullable=True),
    sa.Column('last_attempt_id', sa.String(length=36), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('off', 'active', 'retrying', 'suspended')", name=op.f('ck_auto_recharge_status')),
    sa.CheckConstraint('"trigger" >= 0', name=op.f('ck_auto_recharge_trigger_not_negative')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_auto_recharge_amount_positive')),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_auto_recharge_failures_not_negative')),
    sa.ForeignKeyConstraint(['in_flight_attempt_id'], ['payment_attempts.id'], name=op.f('fk_auto_recharge_in_flight_attempt_id_payment_attempts')),
    sa.ForeignKeyConstraint(['last_attempt_id'], ['payment_attempts.id'], name=op.f('fk_auto_recharge_last_attempt_id_payment_attempts')),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_methods.id'], name=op.f('fk_auto_recharge_payment_method_id_payment_methods')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_auto_recharge_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_auto_recharge')),
    sa.UniqueConstraint('in_flight_attempt_id', name=op.f('uq_auto_recharge_in_flight_attempt_id'))
    )
    with op.batch_alter_table('auto_recharge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auto_recharge_next_retry_at'), ['next_retry_at'], unique=False)

    op.create_table('receipts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('attempt_id', sa.String(length=36), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('card_brand', sa.String(length=32), nullable=False),
    sa.Column('card_last4', sa.String(length=4), nullable=False),
    sa.Column('tenant_name', sa.String(length=200), nullable=False),
    sa.Column('charge_ref', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('auto_recharge', 'purchase')", name=op.f('ck_receipts_kind')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_receipts_amount_positive')),
    sa.ForeignKeyConstraint(['attempt_id'], ['payment_attempts.id'], name=op.f('fk_receipts_attempt_id_payment_attempts')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_receipts_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_receipts_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('attempt_id', name=op.f('uq_receipts_attempt_id')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_receipts_tenant_id_number')),
    sa.UniqueConstraint('tenant_id', 'year', 'seq', name=op.f('uq_receipts_tenant_id_year_seq')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_receipts_transaction_id'))
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_tenant_id_issued_at'), ['tenant_id', 'issued_at'], unique=False)

    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_payment_attempts_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('ux_payment_attempts_one_pending_recharge', ['tenant_id'], unique=True, sqlite_where=sa.text("kind = 'auto_recharge' AND status = 'pending'"), postgresql_where=sa.text("kind = 'auto_recharge' AND status = 'pending'"))



def downgrade() -> None:
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_index('ux_payment_attempts_one_pending_recharge', sqlite_where=sa.text("kind = 'auto_recharge' AND status = 'pending'"), postgresql_where=sa.text("kind = 'auto_recharge' AND status = 'pending'"))
        batch_op.drop_index('ix_payment_attempts_status_created_at')

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_tenant_id_issued_at'))

    op.drop_table('receipts')
    with op.batch_alter_table('auto_recharge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auto_recharge_next_retry_at'))

    op.drop_table('auto_recharge')
