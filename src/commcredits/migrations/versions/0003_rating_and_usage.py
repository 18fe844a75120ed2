"""rating and usage

Revision ID: 0003
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_allowances',
    sa.Column('product', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.CheckConstraint('minutes >= 0', name=op.f('ck_plan_allowances_minutes_not_negative')),
    sa.PrimaryKeyConstraint('product', 'kind', 'country', name=op.f('pk_plan_allowances'))
    )
    op.create_table('rate_decks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('rating_keys', sa.Text(), nullable=False),
    sa.Column('effective_from', sa.DateTime(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_decks'))
    )
    op.create_table('call_records',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=200), nullable=True),
    sa.Column('conference_id', sa.String(length=200), nullable=True),
    sa.Column('call_type', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('organizer_id', sa.String(length=36), nullable=True),
    sa.Column('caller', sa.String(length=32), nullable=False),
    sa.Column('callee', sa.String(length=32), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=True),
    sa.Column('number_type', sa.String(length=24), nullable=False),
    sa.Column('domestic', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=True),
    sa.Column('funding', sa.String(length=10), nullable=False),
    sa.Column('capability', sa.String(length=80), nullable=False),
    sa.Column('pool_minutes', sa.Integer(), nullable=False),
    sa.Column('charge', sa.BigInteger(), nullable=False),
    sa.Column('credits_charge', sa.BigInteger(), nullable=False),
    sa.Column('postpaid_charge', sa.BigInteger(), nullable=False),
    sa.Column('connect_fee', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rating', sa.Text(), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("funding IN ('pool', 'credits', 'free', 'postpaid', 'mixed')", name=op.f('ck_call_records_funding')),
    sa.CheckConstraint('charge = credits_charge + postpaid_charge', name=op.f('ck_call_records_charge_split')),
    sa.CheckConstraint('duration_s >= 0', name=op.f('ck_call_records_duration_not_negative')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_call_records_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_records'))
    )
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_records_tenant_id_started_at'), ['tenant_id', 'started_at'], unique=False)

    op.create_table('pool_usage',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('product', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('used_minutes', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('used_minutes >= 0', name=op.f('ck_pool_usage_used_not_negative')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pool_usage_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'period', 'product', 'kind', 'country', name=op.f('pk_pool_usage'))
    )
    op.create_table('subscriptions',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('product', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_subscriptions_quantity_not_negative')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_subscriptions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'product', name=op.f('pk_subscriptions'))
    )


    # the default minute allowances (DOMAIN.md); operators change them as data
    from commcredits.domain.plans import DEFAULT_ALLOWANCES

    allowances = sa.table(
        "plan_allowances", sa.column("product", sa.String), sa.column("kind", sa.String),
        sa.column("country", sa.String), sa.column("minutes", sa.Integer),
    )
    op.bulk_insert(allowances, [
        {"product": p, "kind": k, "country": c, "minutes": m}
        for (p, k, c), m in sorted(DEFAULT_ALLOWANCES.items())
    ])


def downgrade() -> None:
    op.drop_table('subscriptions')
    op.drop_table('pool_usage')
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_records_tenant_id_started_at'))

    op.drop_table('call_records')
    op.drop_table('rate_decks')
    op.drop_table('plan_allowances')
