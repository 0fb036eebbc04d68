"""Helpers of the price-centre tests: demo ids, fresh SKUs (no seeded prices to interfere),
price lists and lines through the real mutations, and a service-level principal."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.graph.ids import decode_gid

ADMIN, SALES, ANALYST = "admin@demo.example", "sales.east@demo.example", "analyst@demo.example"
DEALER1, DEALER2 = "dealer1@demo.example", "dealer2@demo.example"
SUB1, STORE1, STAFF1 = "subdealer1@demo.example", "store1@demo.example", "staff1@demo.example"

PRICE_FIELDS = "amount { amount currency } list { code kind priority } break { minQuantity } why"

_counter = itertools.count(1)


def pk(gid: str) -> int:
    decoded = decode_gid(gid)
    assert decoded is not None, gid
    return decoded[1]


@dataclass
class Demo:
    tenant_id: int
    dealers: dict[str, str]  # code -> global id
    model_id: str  # a product model to hang fresh SKUs on
    fixed_sku: str  # EB-XY500-RED-48V, seeded with prices on every list kind


async def load_demo(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> Demo:
    q = """{ a: dealer(code: "D0001") { id } b: dealer(code: "D0002") { id } c: dealer(code: "D0001-01") { id }
             d: dealer(code: "D0001-02") { id } e: dealer(code: "D0002-01") { id }
             sku(code: "EB-XY500-RED-48V") { id model { id } } }"""
    data = (await gql(q, token=tokens[ADMIN]))["data"]
    async with engine.connect() as conn:
        tenant_id = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
    codes = {"a": "D0001", "b": "D0002", "c": "D0001-01", "d": "D0001-02", "e": "D0002-01"}
    return Demo(
        tenant_id=tenant_id,
        dealers={code: data[key]["id"] for key, code in codes.items()},
        model_id=data["sku"]["model"]["id"],
        fixed_sku=data["sku"]["id"],
    )


async def new_sku(gql: Any, tokens: dict[str, str], demo: Demo, prefix: str = "T") -> str:
    """A fresh ACTIVE SKU: no list prices it yet, so a test controls every candidate."""
    code = f"{prefix}-{next(_counter):04d}"
    q = """mutation($i: SkuCreateInput!) { skuCreate(input: $i) { sku { id } userErrors { code message } } }"""
    out = (await gql(q, {"i": {"code": code, "name": f"测试车 {code}", "modelId": demo.model_id,
                              "status": "ACTIVE"}}, token=tokens[ADMIN]))["data"]["skuCreate"]
    assert out["userErrors"] == [], out
    return str(out["sku"]["id"])


CREATE_LIST = """mutation($i: PriceListCreateInput!) { priceListCreate(input: $i) {
  priceList { id code kind priority status validFrom validTo dealerLevel dealerTier region { code }
              dealer { code } ownerDealer { code } }
  userErrors { field code message } } }"""

SET_LINES = """mutation($i: PriceListLinesSetInput!) { priceListLinesSet(input: $i) {
  priceList { id code } userErrors { field code message } } }"""


def unique_code(prefix: str) -> str:
    return f"{prefix}-{next(_counter):04d}"


async def create_list(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    """The payload of priceListCreate (``priceList`` and ``userErrors``)."""
    fields.setdefault("name", f"测试 {fields.get('code')}")
    payload: dict[str, Any] = (await gql(CREATE_LIST, {"i": fields}, token=token))["data"]["priceListCreate"]
    return payload


async def new_list(gql: Any, token: str, kind: str, **fields: Any) -> str:
    out = await create_list(gql, token, code=unique_code(kind[:2]), kind=kind, **fields)
    assert out["userErrors"] == [], out
    return str(out["priceList"]["id"])


async def set_lines(
    gql: Any, token: str, list_id: str, lines: list[dict[str, Any]], replace: bool = False
) -> list[dict[str, Any]]:
    """priceListLinesSet; returns its userErrors."""
    out = (await gql(SET_LINES, {"i": {"priceListId": list_id, "lines": lines, "replace": replace}}, token=token))
    errors: list[dict[str, Any]] = out["data"]["priceListLinesSet"]["userErrors"]
    return errors


async def price(
    gql: Any, token: str, sku: str, dealer: str, quantity: int = 1
) -> dict[str, Any] | None:
    q = f"""query($s: ID!, $d: ID!, $q: Int!) {{ node(id: $s) {{ ... on Sku {{
      price(dealerId: $d, quantity: $q) {{ {PRICE_FIELDS} }} }} }} }}"""
    node = (await gql(q, {"s": sku, "d": dealer, "q": quantity}, token=token))["data"]["node"]
    assert node is not None, "the SKU itself is visible to every role"
    result: dict[str, Any] | None = node["price"]
    return result


def hq_admin(demo: Demo) -> Principal:
    return Principal(tenant_id=demo.tenant_id, role=Role.HQ_ADMIN)
