"""statement items

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('statement_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_statement_items_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_items'))
    )
    with op.batch_alter_table('statement_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_items_tenant_id_period'), ['tenant_id', 'period'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('statement_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_items_tenant_id_period'))

    op.drop_table('statement_items')
