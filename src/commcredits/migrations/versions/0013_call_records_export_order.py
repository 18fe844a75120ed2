"""call records are indexed in the usage export's order (tenant, started_at, id)

The export reads a tenant's month ORDER BY started_at, id. With the index on (tenant_id,
started_at) alone PostgreSQL sorted the month first whenever its statistics were stale (after
a large ingest: an external merge of the whole month on disk before the first row); with id
in the index it streams the rows in order. The new index serves every query the old one did.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: an operator may have built it ahead without blocking writes
    # (PostgreSQL `CREATE INDEX CONCURRENTLY`, docs/operations.md)
    op.create_index('ix_call_records_tenant_id_started_at_id', 'call_records', ['tenant_id', 'started_at', 'id'],
                    unique=False, if_not_exists=True)
    op.drop_index('ix_call_records_tenant_id_started_at', table_name='call_records', if_exists=True)


def downgrade() -> None:
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_records_tenant_id_started_at'), ['tenant_id', 'started_at'],
                              unique=False)
        batch_op.drop_index(batch_op.f('ix_call_records_tenant_id_started_at_id'))
