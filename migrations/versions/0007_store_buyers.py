"""orders: a store may buy from its dealer; every order names the warehouse its goods go to

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:40:00+00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_BUYER = "(buyer_dealer_id IS NULL) <> (buyer_store_id IS NULL)"


def upgrade() -> None:
    for table in ("carts", "orders"):
        op.add_column(table, sa.Column('buyer_store_id', sa.BigInteger(), nullable=True))
        op.create_foreign_key(f'{table}_buyer_store_id_fkey', table, 'stores', ['buyer_store_id'], ['id'])
        op.alter_column(table, 'buyer_dealer_id', existing_type=sa.BigInteger(), nullable=True)
        op.create_check_constraint(f'ck_{table}_one_buyer', table, ONE_BUYER)
    op.create_unique_constraint('uq_carts_buyer_store', 'carts', ['tenant_id', 'buyer_store_id'])
    op.create_index('ix_carts_buyer_store_fk', 'carts', ['buyer_store_id'], unique=False)

    op.add_column('orders', sa.Column('buyer_warehouse_id', sa.BigInteger(), nullable=True))
    # Orders placed before this revision were all dealers': their goods go to the dealer's
    # first warehouse (the one a submit picks now).
    op.execute(
        "UPDATE orders o SET buyer_warehouse_id = (SELECT w.id FROM warehouses w "
        "WHERE w.owner_kind = 'DEALER' AND w.dealer_id = o.buyer_dealer_id ORDER BY w.id LIMIT 1)"
    )
    op.alter_column('orders', 'buyer_warehouse_id', existing_type=sa.BigInteger(), nullable=False)
    op.create_foreign_key('orders_buyer_warehouse_id_fkey', 'orders', 'warehouses', ['buyer_warehouse_id'], ['id'])
    op.create_unique_constraint('uq_orders_store_idempotency_key', 'orders',
                                ['tenant_id', 'buyer_store_id', 'idempotency_key'])
    op.create_index('ix_orders_buyer_store', 'orders', ['tenant_id', 'buyer_store_id', 'id'], unique=False)
    op.create_index('ix_orders_buyer_store_fk', 'orders', ['buyer_store_id'], unique=False)
    op.create_index('ix_orders_buyer_warehouse_fk', 'orders', ['buyer_warehouse_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_buyer_warehouse_fk', table_name='orders')
    op.drop_index('ix_orders_buyer_store_fk', table_name='orders')
    op.drop_index('ix_orders_buyer_store', table_name='orders')
    op.drop_constraint('uq_orders_store_idempotency_key', 'orders', type_='unique')
    op.drop_constraint('orders_buyer_warehouse_id_fkey', 'orders', type_='foreignkey')
    op.drop_column('orders', 'buyer_warehouse_id')
    op.drop_index('ix_carts_buyer_store_fk', table_name='carts')
    op.drop_constraint('uq_carts_buyer_store', 'carts', type_='unique')
    # Stores' carts can go; stores' orders are business records, so refuse rather than lose them.
    op.execute("DELETE FROM carts WHERE buyer_store_id IS NOT NULL")
    op.execute("DO $$ BEGIN IF EXISTS (SELECT 1 FROM orders WHERE buyer_store_id IS NOT NULL) THEN "
               "RAISE EXCEPTION 'stores have orders: cannot downgrade below 0007'; END IF; END $$")
    for table in ("orders", "carts"):
        op.drop_constraint(f'ck_{table}_one_buyer', table, type_='check')
        op.alter_column(table, 'buyer_dealer_id', existing_type=sa.BigInteger(), nullable=False)
        op.drop_constraint(f'{table}_buyer_store_id_fkey', table, type_='foreignkey')
        op.drop_column(table, 'buyer_store_id')
