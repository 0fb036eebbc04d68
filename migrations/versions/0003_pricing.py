"""price centre: guide retail prices, price lists and lines, limits, audit, violations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000+00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('price_lists',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='ACTIVE', nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dealer_level', sa.SmallInteger(), nullable=True),
    sa.Column('dealer_tier', sa.String(length=1), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('owner_dealer_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'CONTRACT') = (dealer_id IS NOT NULL)", name='ck_price_lists_contract_dealer'),
    sa.CheckConstraint("(kind = 'DOWNSTREAM') = (owner_dealer_id IS NOT NULL)", name='ck_price_lists_downstream_owner'),
    sa.CheckConstraint("kind IN ('BASE', 'TIER', 'CONTRACT', 'PROMOTION', 'DOWNSTREAM')", name='ck_price_lists_kind'),
    sa.CheckConstraint("status IN ('ACTIVE', 'INACTIVE')", name='ck_price_lists_status'),
    sa.CheckConstraint('dealer_level IS NULL OR dealer_level IN (1, 2)', name='ck_price_lists_dealer_level'),
    sa.CheckConstraint('priority >= 0', name='ck_price_lists_priority'),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name='ck_price_lists_window'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['owner_dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code')
    )
    op.create_index('ix_price_lists_dealer', 'price_lists', ['tenant_id', 'dealer_id'], unique=False)
    op.create_index('ix_price_lists_owner', 'price_lists', ['tenant_id', 'owner_dealer_id'], unique=False)
    op.create_table('guide_retail_prices',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name='ck_guide_retail_prices_amount'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'sku_id')
    )
    op.create_table('price_limits',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('floor', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('ceiling', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ceiling IS NULL OR ceiling > 0', name='ck_price_limits_ceiling'),
    sa.CheckConstraint('floor IS NOT NULL OR ceiling IS NOT NULL', name='ck_price_limits_some_bound'),
    sa.CheckConstraint('floor IS NULL OR ceiling IS NULL OR floor <= ceiling', name='ck_price_limits_band'),
    sa.CheckConstraint('floor IS NULL OR floor > 0', name='ck_price_limits_floor'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ux_price_limits_sku_region', 'price_limits', ['tenant_id', 'sku_id', 'region_id'], unique=True, postgresql_nulls_not_distinct=True)
    op.create_table('price_list_lines',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('price_list_id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('min_quantity', sa.Integer(), server_default='1', nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name='ck_price_list_lines_amount'),
    sa.CheckConstraint('min_quantity >= 1', name='ck_price_list_lines_min_quantity'),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name='ck_price_list_lines_window'),
    sa.ForeignKeyConstraint(['price_list_id'], ['price_lists.id'], ),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_price_list_lines_list_sku', 'price_list_lines', ['price_list_id', 'sku_id', 'min_quantity'], unique=False)
    op.create_index('ix_price_list_lines_sku_fk', 'price_list_lines', ['sku_id'], unique=False)
    op.create_table('price_violations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('store_id', sa.BigInteger(), nullable=True),
    sa.Column('sku_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('floor', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('ceiling', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('region_id', sa.BigInteger(), nullable=True),
    sa.Column('sold_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('BELOW_FLOOR', 'ABOVE_CEILING')", name='ck_price_violations_kind'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_price_violations_dealer', 'price_violations', ['tenant_id', 'dealer_id', 'sold_at'], unique=False)
    op.create_index('ix_price_violations_sku', 'price_violations', ['tenant_id', 'sku_id'], unique=False)
    op.create_index('ix_price_violations_tenant', 'price_violations', ['tenant_id', 'id'], unique=False)
    op.create_table('price_audit',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('price_list_id', sa.BigInteger(), nullable=True),
    sa.Column('sku_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_api_key_id', sa.BigInteger(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('old_values', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('new_values', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("action IN ('CREATE', 'UPDATE', 'DELETE')", name='ck_price_audit_action'),
    sa.CheckConstraint("entity IN ('PRICE_LIST', 'PRICE_LIST_LINE', 'PRICE_LIMIT', 'GUIDE_RETAIL_PRICE')", name='ck_price_audit_entity'),
    sa.ForeignKeyConstraint(['actor_api_key_id'], ['api_keys.id'], ),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['price_list_id'], ['price_lists.id'], ),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_price_audit_entity', 'price_audit', ['tenant_id', 'entity', 'entity_id'], unique=False)
    op.create_index('ix_price_audit_list', 'price_audit', ['tenant_id', 'price_list_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_price_audit_list', table_name='price_audit')
    op.drop_index('ix_price_audit_entity', table_name='price_audit')
    op.drop_table('price_audit')
    op.drop_index('ix_price_violations_tenant', table_name='price_violations')
    op.drop_index('ix_price_violations_sku', table_name='price_violations')
    op.drop_index('ix_price_violations_dealer', table_name='price_violations')
    op.drop_table('price_violations')
    op.drop_index('ix_price_list_lines_sku_fk', table_name='price_list_lines')
    op.drop_index('ix_price_list_lines_list_sku', table_name='price_list_lines')
    op.drop_table('price_list_lines')
    op.drop_index('ux_price_limits_sku_region', table_name='price_limits', postgresql_nulls_not_distinct=True)
    op.drop_table('price_limits')
    op.drop_table('guide_retail_prices')
    op.drop_index('ix_price_lists_owner', table_name='price_lists')
    op.drop_index('ix_price_lists_dealer', table_name='price_lists')
    op.drop_table('price_lists')
