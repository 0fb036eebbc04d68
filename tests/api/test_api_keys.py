"""Integration API keys: hashed at rest, rights limited to their scopes (and dealer, if bound)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.org.identity import create_api_key


async def _key(engine: AsyncEngine, scopes: list[str], dealer_code: str | None = None) -> str:
    async with engine.begin() as conn:
        tenant_id = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        dealer_id = None
        if dealer_code:
            dealer_id = (await conn.execute(sa.text("SELECT id FROM dealers WHERE code = :c"), {"c": dealer_code})
                         ).scalar_one()
        return await create_api_key(conn, tenant_id, "test", scopes, dealer_id)


async def test_key_is_stored_hashed(engine: AsyncEngine) -> None:
    secret = await _key(engine, ["catalog:read"])
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT key_hash, prefix FROM api_keys"))).all()
    assert all(secret not in (r.key_hash, r.prefix) for r in rows)


async def test_scopes_limit_reads_and_writes(gql: Any, engine: AsyncEngine) -> None:
    secret = await _key(engine, ["catalog:read"])
    data = (await gql("{ me { role scopes } skus(first: 1) { totalCount } dealers { totalCount } }", token=secret))
    assert data["data"]["me"] == {"role": "INTEGRATION", "scopes": ["catalog:read"]}
    assert data["data"]["skus"]["totalCount"] > 0
    assert data["data"]["dealers"]["totalCount"] == 0  # no dealers:read
    sku = (await gql("{ skus(first: 1) { edges { node { id } } } }", token=secret))["data"]["skus"]["edges"][0]
    upd = 'mutation($i: SkuUpdateInput!) { skuUpdate(input: $i) { userErrors { code } } }'
    body = await gql(upd, {"i": {"id": sku["node"]["id"], "moq": 3}}, token=secret, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_key_bound_to_dealer_sees_its_subtree(gql: Any, engine: AsyncEngine) -> None:
    secret = await _key(engine, ["dealers:read", "stores:read"], dealer_code="D0002")
    listed = await gql("{ dealers(first: 250) { edges { node { code } } } }", token=secret)
    codes = {e["node"]["code"] for e in listed["data"]["dealers"]["edges"]}
    assert "D0002" in codes and "D0001" not in codes


async def test_revoked_key_is_refused(gql: Any, engine: AsyncEngine) -> None:
    secret = await _key(engine, ["catalog:read"])
    prefix = secret.split("_")[1]
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE api_keys SET revoked_at = now() WHERE prefix = :p"), {"p": prefix})
    from ymt_graph.org import identity

    identity._key_cache.clear()  # the 30 s cache would otherwise still accept it
    body = await gql("{ me { role } }", token=secret, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_analyst_key_reads_everything_and_writes_nothing(gql: Any, engine: AsyncEngine) -> None:
    from ymt_graph.access import Role

    async with engine.begin() as conn:
        tenant_id = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        secret = await create_api_key(conn, tenant_id, "bi", [], role=Role.ANALYST)
    data = (await gql("{ me { role } dealers { totalCount } stores { totalCount } }", token=secret))["data"]
    assert data["me"]["role"] == "ANALYST"
    assert data["dealers"]["totalCount"] >= 50 and data["stores"]["totalCount"] >= 200
    d = (await gql('{ dealer(code: "D0002") { id } }', token=secret))["data"]["dealer"]["id"]
    upd = "mutation($i: DealerUpdateInput!) { dealerUpdate(input: $i) { userErrors { code } } }"
    body = await gql(upd, {"i": {"id": d, "name": "x"}}, token=secret, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
