"""rate deck versions: import mode, who imported, override fallback key, lineage, the
version in force per rating key

Revision ID: 0009
Revises: 0008
"""

import json

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rate_decks') as batch:
        batch.add_column(sa.Column('mode', sa.String(length=8), server_default='replace', nullable=False))
        batch.add_column(sa.Column('imported_by', sa.String(length=200), server_default='operator', nullable=False))
        batch.add_column(sa.Column('fallback_rating_key', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('parents', sa.Text(), server_default='{}', nullable=False))
        batch.add_column(sa.Column('stats', sa.Text(), server_default='{}', nullable=False))
    op.create_table('rate_deck_heads',
    sa.Column('rating_key', sa.String(length=100), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('rating_key', name=op.f('pk_rate_deck_heads'))
    )
    _backfill()


def _backfill() -> None:
    """Existing decks keep rating as before: each key's decks form one line, newest in force."""
    conn = op.get_bind()
    decks = sa.table('rate_decks', sa.column('id', sa.BigInteger), sa.column('rating_keys', sa.Text),
                     sa.column('imported_at', sa.DateTime), sa.column('parents', sa.Text))
    heads = sa.table('rate_deck_heads', sa.column('rating_key', sa.String), sa.column('version', sa.BigInteger),
                     sa.column('updated_at', sa.DateTime), sa.column('updated_by', sa.String))
    last: dict[str, tuple[int, object]] = {}
    for deck_id, keys, imported_at in conn.execute(
            sa.select(decks.c.id, decks.c.rating_keys, decks.c.imported_at).order_by(decks.c.id)).all():
        parents = {k: last[k][0] for k in json.loads(keys) if k in last}
        conn.execute(decks.update().where(decks.c.id == deck_id).values(parents=json.dumps(parents)))
        for k in json.loads(keys):
            last[k] = (deck_id, imported_at)
    if last:
        conn.execute(heads.insert(), [{"rating_key": k, "version": v, "updated_at": at, "updated_by": "migration"}
                                      for k, (v, at) in last.items()])


def downgrade() -> None:
    op.drop_table('rate_deck_heads')
    with op.batch_alter_table('rate_decks') as batch:
        for name in ('stats', 'parents', 'fallback_rating_key', 'imported_by', 'mode'):
            batch.drop_column(name)
