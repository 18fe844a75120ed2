"""reservations are indexed for their active holds only

The sweep of expired holds and the sums of held money read only active reservations, but
the indexes on (status, expires_at) and (tenant_id, status) kept an entry for every call
ever made, and every authorization and settlement wrote to pages scattered across them.
Partial indexes on the active holds stay a page or two: each call writes fewer pages, so
each commit writes (and each fsync waits for) less.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    # IF NOT EXISTS: an operator may have built them ahead without blocking writes
    # (PostgreSQL `CREATE INDEX CONCURRENTLY`, docs/operations.md)
    op.create_index('ix_reservations_active_expires_at', 'reservations', ['expires_at'], unique=False,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE, if_not_exists=True)
    op.create_index('ix_reservations_active_tenant_id', 'reservations', ['tenant_id'], unique=False,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE, if_not_exists=True)
    op.drop_index('ix_reservations_status_expires_at', table_name='reservations', if_exists=True)
    op.drop_index('ix_reservations_tenant_id_status', table_name='reservations', if_exists=True)


def downgrade() -> None:
    op.create_index('ix_reservations_status_expires_at', 'reservations', ['status', 'expires_at'], unique=False)
    op.create_index('ix_reservations_tenant_id_status', 'reservations', ['tenant_id', 'status'], unique=False)
    op.drop_index('ix_reservations_active_tenant_id', table_name='reservations')
    op.drop_index('ix_reservations_active_expires_at', table_name='reservations')
