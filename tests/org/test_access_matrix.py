"""Authorization as a matrix: every demo role against every kind of object, own and foreign.

Reads go through ``node(id)`` (null = not visible); writes through the real
mutations (ok / FORBIDDEN error / NOT_FOUND userError). Expectations are stated
per role, not derived from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph import access
from ymt_graph.org import service as org_service

ADMIN, SALES, ANALYST = "admin@demo.example", "sales.east@demo.example", "analyst@demo.example"
DEALER1, DEALER2 = "dealer1@demo.example", "dealer2@demo.example"
SUB1, STORE1 = "subdealer1@demo.example", "store1@demo.example"
STAFF1 = "staff1@demo.example"  # DEALER_STAFF of D0001: sees like its admin, changes nothing
ROLES = (ADMIN, SALES, ANALYST, DEALER1, STAFF1, DEALER2, SUB1, STORE1)

OBJECTS_QUERY = """
query Objects {
  d1: dealer(code: "D0001") { id region { code parent { code parent { code } } }
        stores(first: 1) { edges { node { id code } } }
        warehouses(first: 1) { edges { node { id } } } }
  sub: dealer(code: "D0001-01") { id region { code parent { code parent { code } } }
        stores(first: 1) { edges { node { id } } }
        warehouses(first: 1) { edges { node { id } } } }
  d2: dealer(code: "D0002") { id stores(first: 1) { edges { node { id } } }
        warehouses(first: 1) { edges { node { id } } } }
  hq: warehouses(first: 1, filter: {ownerKind: HQ}) { edges { node { id } } }
  skus(first: 1) { edges { node { id } } }
}
"""


@pytest.fixture(scope="module")
async def objects(tokens: dict[str, str], gql: Any) -> dict[str, str]:
    data = (await gql(OBJECTS_QUERY, token=tokens[ADMIN]))["data"]

    def first_id(conn: dict[str, Any]) -> str:
        assert conn["edges"], "demo data must have this object"
        return conn["edges"][0]["node"]["id"]

    me = (await gql("{ me { store { id } } }", token=tokens[STORE1]))["data"]["me"]
    staff = (await gql("{ me { user { id } } }", token=tokens[STAFF1]))["data"]["me"]["user"]["id"]
    dealer2 = (await gql("{ me { user { id } } }", token=tokens[DEALER2]))["data"]["me"]["user"]["id"]
    return {
        "D0001": data["d1"]["id"],
        "D0001-01": data["sub"]["id"],
        "D0002": data["d2"]["id"],
        "store:D0001(store1)": me["store"]["id"],
        "store:D0001-01": first_id(data["sub"]["stores"]),
        "store:D0002": first_id(data["d2"]["stores"]),
        "wh:HQ": first_id(data["hq"]),
        "wh:D0001": first_id(data["d1"]["warehouses"]),
        "wh:D0001-01": first_id(data["sub"]["warehouses"]),
        "wh:D0002": first_id(data["d2"]["warehouses"]),
        "sku": first_id(data["skus"]),
        "user:staff1": staff,
        "user:dealer2": dealer2,
    }


ALL = {
    "D0001", "D0001-01", "D0002", "store:D0001(store1)", "store:D0001-01", "store:D0002",
    "wh:HQ", "wh:D0001", "wh:D0001-01", "wh:D0002", "sku", "user:staff1", "user:dealer2",
}
D2_SIDE = {"D0002", "store:D0002", "wh:D0002", "user:dealer2"}
# What each role may see. The sub-dealer and the store see their suppliers above them
# (D0001) by name, but nothing of their suppliers' stores or stock.
VISIBLE = {
    ADMIN: ALL,
    ANALYST: ALL,
    SALES: ALL - D2_SIDE,  # area EAST only
    DEALER1: ALL - D2_SIDE,
    STAFF1: ALL - D2_SIDE,
    DEALER2: D2_SIDE | {"wh:HQ", "sku"},
    SUB1: {"D0001", "D0001-01", "store:D0001-01", "wh:D0001-01", "wh:HQ", "sku"},
    STORE1: {"D0001", "store:D0001(store1)", "wh:HQ", "sku"},
}


@pytest.mark.parametrize("role", ROLES)
async def test_read_scope_per_role(role: str, tokens: dict[str, str], objects: dict[str, str], gql: Any) -> None:
    names = sorted(objects)
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    result = (await gql(query, {"ids": [objects[n] for n in names]}, token=tokens[role]))["data"]["nodes"]
    seen = {name for name, node in zip(names, result, strict=True) if node is not None}
    assert seen == VISIBLE[role]


async def test_sales_east_scope_matches_regions(tokens: dict[str, str], gql: Any) -> None:
    """HQ_SALES of EAST sees exactly the dealers whose region lies in EAST."""
    q = "{ dealers(first: 250) { totalCount edges { node { code region { code parent { code parent { code } } } } } } }"
    everything = (await gql(q, token=tokens[ADMIN]))["data"]["dealers"]["edges"]

    def area(region: dict[str, Any]) -> str:
        while region.get("parent"):
            region = region["parent"]
        return region["code"]

    east = {e["node"]["code"] for e in everything if area(e["node"]["region"]) == "EAST"}
    mine = (await gql(q, token=tokens[SALES]))["data"]["dealers"]["edges"]
    assert {e["node"]["code"] for e in mine} == east
    assert "D0001" in east and "D0002" not in east


@pytest.mark.parametrize("role", ROLES)
async def test_credit_limit_is_confidential(role: str, tokens: dict[str, str], gql: Any) -> None:
    q = '{ dealer(code: "D0001") { creditLimit { amount } paymentTermsDays } }'
    dealer = (await gql(q, token=tokens[role]))["data"]["dealer"]
    if role in (DEALER2,):
        assert dealer is None
        return
    assert dealer is not None
    shown = dealer["creditLimit"] is not None
    # A supplier's credit limit is not its customers' business.
    assert shown == (role in (ADMIN, ANALYST, SALES, DEALER1, STAFF1))


# ---- writes -------------------------------------------------------------------------------

OK, FORBIDDEN, NOT_FOUND = "ok", "FORBIDDEN", "NOT_FOUND"

DEALER_UPDATE = """
mutation($i: DealerUpdateInput!) { dealerUpdate(input: $i) { dealer { id } userErrors { code } } }
"""
STORE_UPDATE = """
mutation($i: StoreUpdateInput!) { storeUpdate(input: $i) { store { id } userErrors { code } } }
"""
SKU_UPDATE = """
mutation($i: SkuUpdateInput!) { skuUpdate(input: $i) { sku { id } userErrors { code } } }
"""

WRITES: dict[str, dict[str, str]] = {
    # target: {role: outcome}
    "D0001": {STAFF1: FORBIDDEN, ADMIN: OK, SALES: OK, ANALYST: FORBIDDEN, DEALER1: FORBIDDEN, DEALER2: NOT_FOUND,
              SUB1: FORBIDDEN, STORE1: FORBIDDEN},
    "D0001-01": {STAFF1: FORBIDDEN, ADMIN: OK, SALES: OK, ANALYST: FORBIDDEN, DEALER1: OK, DEALER2: NOT_FOUND,
                 SUB1: FORBIDDEN, STORE1: NOT_FOUND},
    "D0002": {STAFF1: NOT_FOUND, ADMIN: OK, SALES: NOT_FOUND, ANALYST: FORBIDDEN, DEALER1: NOT_FOUND,
              DEALER2: FORBIDDEN,
              SUB1: NOT_FOUND, STORE1: NOT_FOUND},
    "store:D0001(store1)": {STAFF1: FORBIDDEN, ADMIN: OK, SALES: OK, ANALYST: FORBIDDEN, DEALER1: OK,
                            DEALER2: NOT_FOUND,
                            SUB1: NOT_FOUND, STORE1: FORBIDDEN},
    "store:D0002": {STAFF1: NOT_FOUND, ADMIN: OK, SALES: NOT_FOUND, ANALYST: FORBIDDEN, DEALER1: NOT_FOUND, DEALER2: OK,
                    SUB1: NOT_FOUND, STORE1: NOT_FOUND},
    "sku": {STAFF1: FORBIDDEN, ADMIN: OK, SALES: FORBIDDEN, ANALYST: FORBIDDEN, DEALER1: FORBIDDEN, DEALER2: FORBIDDEN,
            SUB1: FORBIDDEN, STORE1: FORBIDDEN},
}


def outcome(body: dict[str, Any], field: str) -> str:
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    payload = body["data"][field]
    if payload["userErrors"]:
        code = payload["userErrors"][0]["code"]
        return NOT_FOUND if code.endswith("NOT_FOUND") else code
    return OK


@pytest.mark.parametrize("target", sorted(WRITES))
@pytest.mark.parametrize("role", ROLES)
async def test_write_matrix(
    role: str, target: str, tokens: dict[str, str], objects: dict[str, str], gql: Any
) -> None:
    gid = objects[target]
    if target.startswith("store:"):
        query, field, variables = STORE_UPDATE, "storeUpdate", {"i": {"id": gid, "address": "matrix test"}}
    elif target == "sku":
        query, field, variables = SKU_UPDATE, "skuUpdate", {"i": {"id": gid, "unit": "PCS"}}
    else:
        query, field, variables = DEALER_UPDATE, "dealerUpdate", {"i": {"id": gid, "contactName": "matrix test"}}
    body = await gql(query, variables, token=tokens[role], expect_errors=True)
    assert outcome(body, field) == WRITES[target][role]


@pytest.mark.parametrize(
    ("role", "parent", "expected"),
    [
        (ADMIN, None, OK),
        (SALES, None, OK),  # a level-1 dealer in their own area
        (DEALER1, None, FORBIDDEN),  # distributors are HQ's to appoint
        (DEALER1, "D0001", OK),  # a distributor onboards its own sub-dealers
        (STAFF1, "D0001", FORBIDDEN),  # its staff may not
        (DEALER2, "D0001", NOT_FOUND),
        (SUB1, "D0001-01", "PARENT_TOO_DEEP"),
        (ANALYST, None, FORBIDDEN),
        (STORE1, None, FORBIDDEN),
    ],
)
async def test_dealer_create_rights(
    role: str, parent: str | None, expected: str, tokens: dict[str, str], objects: dict[str, str], gql: Any
) -> None:
    code = f"T-{abs(hash((role, parent))) % 10**6}"
    data: dict[str, Any] = {"code": code, "name": "测试经销商", "regionCode": "EAST"}
    if parent:
        data["parentId"] = objects[parent]
    q = "mutation($i: DealerCreateInput!) { dealerCreate(input: $i) { dealer { code level } userErrors { code } } }"
    body = await gql(q, {"i": data}, token=tokens[role], expect_errors=True)
    assert outcome(body, "dealerCreate") == expected


async def test_a_subtree_is_an_index_range_even_when_its_path_is_a_parameter(engine: AsyncEngine) -> None:
    """``access.subtree_clause``: a compiled read's plan is generic, with the principal's path a
    parameter (``runner.stand_in``); its subtree must still be found on ``ix_dealers_path``, which
    a LIKE with a parameter prefix cannot use. Equal to the LIKE it replaced on the demo data."""
    dealers = org_service.dealers
    clause = access.subtree_clause(dealers.c.path, "/1/")
    sql = str(sa.select(dealers.c.id).where(dealers.c.tenant_id == 1, clause)
              .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    generic = sql.replace("'/1/~'", "$2").replace("'/1/'", "$1")
    assert "$1" in generic and "$2" in generic, sql
    async with engine.begin() as c:
        await c.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
        await c.execute(sa.text("SET LOCAL enable_seqscan = off"))
        await c.execute(sa.text(f"PREPARE subtree(text, text) AS {generic}"))
        plan = "\n".join(r[0] for r in await c.execute(sa.text("EXPLAIN EXECUTE subtree('/1/', '/1/~')")))
        ids = {r[0] for r in await c.execute(sa.text("EXECUTE subtree('/1/', '/1/~')"))}
        like = {r[0] for r in await c.execute(sa.text("SELECT id FROM dealers WHERE path LIKE '/1/%'"))}
        await c.execute(sa.text("DEALLOCATE subtree"))
    assert "ix_dealers_path" in plan and "~>=~ $1" in plan, plan
    assert ids == like and len(ids) > 1
