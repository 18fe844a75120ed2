"""spend controls, per-user dial-out policies, their change journal, purchase limits per currency

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

POLICIES = "dial_out_policy IN ('all', 'domestic_only', 'no_premium', 'none')"


def upgrade() -> None:
    op.create_table('spend_controls',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('dial_out_policy', sa.String(length=16), nullable=False),
    sa.Column('daily_limit', sa.BigInteger(), nullable=True),
    sa.Column('monthly_limit', sa.BigInteger(), nullable=True),
    sa.Column('user_daily_limit', sa.BigInteger(), nullable=True),
    sa.Column('low_balance_threshold', sa.BigInteger(), nullable=True),
    sa.Column('max_auto_recharges_per_day', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint(POLICIES, name=op.f('ck_spend_controls_dial_out_policy')),
    sa.CheckConstraint('daily_limit IS NULL OR daily_limit >= 0', name=op.f('ck_spend_controls_daily_limit')),
    sa.CheckConstraint('monthly_limit IS NULL OR monthly_limit >= 0', name=op.f('ck_spend_controls_monthly_limit')),
    sa.CheckConstraint('user_daily_limit IS NULL OR user_daily_limit >= 0',
                       name=op.f('ck_spend_controls_user_daily_limit')),
    sa.CheckConstraint('low_balance_threshold IS NULL OR low_balance_threshold >= 0',
                       name=op.f('ck_spend_controls_low_balance_threshold')),
    sa.CheckConstraint('max_auto_recharges_per_day >= 1', name=op.f('ck_spend_controls_max_auto_recharges_per_day')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_spend_controls_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_spend_controls'))
    )
    op.create_table('user_dial_out_policies',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('dial_out_policy', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint(POLICIES, name=op.f('ck_user_dial_out_policies_dial_out_policy')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_user_dial_out_policies_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_dial_out_policies_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_dial_out_policies'))
    )
    with op.batch_alter_table('user_dial_out_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_dial_out_policies_tenant_id'), ['tenant_id'], unique=False)
    op.create_table('spend_control_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.String(length=40), nullable=True),
    sa.Column('new_value', sa.String(length=40), nullable=True),
    sa.Column('changed_by', sa.String(length=200), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_spend_control_changes_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spend_control_changes'))
    )
    with op.batch_alter_table('spend_control_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spend_control_changes_tenant_id_changed_at'),
                              ['tenant_id', 'changed_at'], unique=False)
    op.create_table('purchase_limits',
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('minimum', sa.BigInteger(), nullable=False),
    sa.Column('maximum', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('minimum > 0 AND maximum >= minimum', name=op.f('ck_purchase_limits_range')),
    sa.PrimaryKeyConstraint('currency', name=op.f('pk_purchase_limits'))
    )


def downgrade() -> None:
    op.drop_table('purchase_limits')
    with op.batch_alter_table('spend_control_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spend_control_changes_tenant_id_changed_at'))
    op.drop_table('spend_control_changes')
    with op.batch_alter_table('user_dial_out_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_dial_out_policies_tenant_id'))
    op.drop_table('user_dial_out_policies')
    op.drop_table('spend_controls')
