"""SKU lists, search (Chinese too), orderability by assortment, and SKU mutations."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements

ADMIN, DEALER1, DEALER2 = "admin@demo.example", "dealer1@demo.example", "dealer2@demo.example"

LIST = """query($f: SkuFilter, $first: Int, $after: String) { skus(filter: $f, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id code name unit moq orderMultiple serialTracked status launchDate attributes
                 category { code name } model { code name category { code } } } } } }"""


async def skus(gql: Any, token: str, f: dict[str, Any] | None = None, first: int = 250) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        conn = (await gql(LIST, {"f": f, "first": first, "after": after}, token=token))["data"]["skus"]
        out += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return out
        after = conn["pageInfo"]["endCursor"]


async def test_catalog_shape(gql: Any, tokens: dict[str, str]) -> None:
    items = await skus(gql, tokens[DEALER1])
    assert len(items) >= 100
    assert [s["code"] for s in items] == sorted(s["code"] for s in items)
    ebike = next(s for s in items if s["category"]["code"] == "EBIKE")
    assert ebike["serialTracked"] is True and ebike["model"]["category"]["code"] == "EBIKE"
    assert isinstance(ebike["attributes"], dict) and ebike["moq"] >= 1


async def test_search_by_chinese_name_and_code(gql: Any, tokens: dict[str, str]) -> None:
    everything = await skus(gql, tokens[ADMIN])
    sample = everything[len(everything) // 2]
    word = sample["name"][:2]
    found = await skus(gql, tokens[ADMIN], {"search": word})
    assert sample["code"] in {s["code"] for s in found}
    assert all(word in s["name"] or word.lower() in s["code"].lower() for s in found)
    by_code = await skus(gql, tokens[ADMIN], {"search": sample["code"].lower()})
    assert sample["code"] in {s["code"] for s in by_code}


async def test_filter_by_category_and_status(gql: Any, tokens: dict[str, str]) -> None:
    cats = (await gql("{ categories { edges { node { id code } } } }", token=tokens[ADMIN]))["data"]["categories"]
    battery = next(e["node"]["id"] for e in cats["edges"] if e["node"]["code"] == "BATTERY")
    items = await skus(gql, tokens[ADMIN], {"categoryId": battery})
    assert items and all(s["category"]["code"] == "BATTERY" for s in items)
    disc = await skus(gql, tokens[ADMIN], {"status": "DISCONTINUED"})
    assert disc and all(s["status"] == "DISCONTINUED" for s in disc)


async def test_orderable_by_follows_assortment_rules(gql: Any, tokens: dict[str, str]) -> None:
    ids = (await gql('{ a: dealer(code: "D0001") { id tier } b: dealer(code: "D0002") { id tier } }',
                     token=tokens[ADMIN]))["data"]
    all_skus = await skus(gql, tokens[ADMIN])
    premium = {s["code"] for s in all_skus if s["category"]["code"] == "PREMIUM" and s["status"] == "ACTIVE"}
    for key in ("a", "b"):
        got = await skus(gql, tokens[ADMIN], {"orderableBy": ids[key]["id"]})
        codes = {s["code"] for s in got}
        assert all(s["status"] == "ACTIVE" for s in got), "only ACTIVE SKUs are orderable"
        standard = {s["code"] for s in all_skus if s["category"]["code"] != "PREMIUM" and s["status"] == "ACTIVE"}
        assert standard <= codes
        if ids[key]["tier"] == "A":
            assert premium <= codes
        else:
            assert len(codes & premium) <= 1, "non-A dealers get at most an explicitly granted premium SKU"
    d2 = {s["code"] for s in await skus(gql, tokens[ADMIN], {"orderableBy": ids["b"]["id"]})}
    assert d2 & premium, "the demo grants D0002 one premium SKU explicitly"


async def test_orderable_by_foreign_dealer_is_empty(gql: Any, tokens: dict[str, str]) -> None:
    d2 = (await gql('{ dealer(code: "D0002") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    q = "query($d: ID) { skus(filter: {orderableBy: $d}) { totalCount edges { node { code } } } }"
    out = (await gql(q, {"d": d2}, token=tokens[DEALER1]))["data"]["skus"]
    assert out == {"totalCount": 0, "edges": []}


async def test_sku_by_code_and_id(gql: Any, tokens: dict[str, str]) -> None:
    first = (await skus(gql, tokens[DEALER2]))[0]
    by_code = await gql("query($c: String) { sku(code: $c) { id code } }", {"c": first["code"]}, token=tokens[DEALER2])
    assert by_code["data"]["sku"]["id"] == first["id"]
    by_id = await gql("query($i: ID) { sku(id: $i) { code } }", {"i": first["id"]}, token=tokens[DEALER2])
    assert by_id["data"]["sku"]["code"] == first["code"]
    both = await gql('{ sku(id: "x", code: "y") { code } }', token=tokens[DEALER2], expect_errors=True)
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_catalog_page_statement_count_is_constant(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    counts = []
    for first in (5, 50, 120):
        with count_statements(engine) as c:
            await gql(LIST, {"first": first}, token=tokens[DEALER1])
        counts.append(c.count)
    # The compiled path: one statement whatever the page size (the resolver path's two — the
    # page, then the models' categories batched — are pinned in test_dealer_catalog_page).
    assert counts == [1, 1, 1], (counts, c.statements)


CREATE = """mutation($i: SkuCreateInput!) { skuCreate(input: $i) {
  sku { code name status unit moq orderMultiple serialTracked attributes category { code } model { code } }
  userErrors { field code message } } }"""


async def test_sku_create_and_update(gql: Any, tokens: dict[str, str]) -> None:
    model = (await skus(gql, tokens[ADMIN], {"search": "EB"}))[0]["model"]
    models = await gql("query($c: String) { sku(code: $c) { model { id } } }",
                       {"c": (await skus(gql, tokens[ADMIN], {"search": "EB"}))[0]["code"]}, token=tokens[ADMIN])
    model_id = models["data"]["sku"]["model"]["id"]
    data = {"code": "EB-NEW-001", "name": "新款 48V 星空灰", "modelId": model_id, "moq": 2, "orderMultiple": 2,
            "serialTracked": True, "attributes": {"colour": "星空灰", "voltage": 48}}
    out = (await gql(CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["skuCreate"]
    assert out["userErrors"] == []
    assert out["sku"]["status"] == "DRAFT" and out["sku"]["model"]["code"] == model["code"]
    assert out["sku"]["attributes"] == {"colour": "星空灰", "voltage": 48}
    sku_id = (await gql('{ sku(code: "EB-NEW-001") { id } }', token=tokens[ADMIN]))["data"]["sku"]["id"]
    upd = """mutation($i: SkuUpdateInput!) { skuUpdate(input: $i) { sku { status moq name } userErrors { code } } }"""
    res = (await gql(upd, {"i": {"id": sku_id, "status": "ACTIVE", "moq": 4}}, token=tokens[ADMIN]))["data"]
    assert res["skuUpdate"] == {"sku": {"status": "ACTIVE", "moq": 4, "name": "新款 48V 星空灰"}, "userErrors": []}
    bad = (await gql(upd, {"i": {"id": sku_id, "moq": 0}}, token=tokens[ADMIN]))["data"]["skuUpdate"]
    assert bad["userErrors"] == [{"code": "MOQ_INVALID"}]
    still = (await gql('{ sku(code: "EB-NEW-001") { moq } }', token=tokens[ADMIN]))["data"]["sku"]
    assert still == {"moq": 4}


async def test_sku_create_bad_inputs(gql: Any, tokens: dict[str, str]) -> None:
    any_sku = (await skus(gql, tokens[ADMIN]))[0]
    model_id = (await gql("query($c: String) { sku(code: $c) { model { id } } }", {"c": any_sku["code"]},
                          token=tokens[ADMIN]))["data"]["sku"]["model"]["id"]
    cases = [
        ({"code": any_sku["code"]}, "CODE_TAKEN"),
        ({"code": "有空格 code"}, "CODE_INVALID"),
        ({"moq": 0}, "MOQ_INVALID"),
        ({"orderMultiple": -2}, "ORDER_MULTIPLE_INVALID"),
        ({"name": " "}, "NAME_BLANK"),
        ({"modelId": "UHJvZHVjdE1vZGVsOjk5OTk5"}, "MODEL_NOT_FOUND"),
        ({"attributes": [1, 2]}, "ATTRIBUTES_INVALID"),
    ]
    for change, code in cases:
        data = {"code": "EB-BAD-1", "name": "坏", "modelId": model_id, **change}
        out = (await gql(CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["skuCreate"]
        assert out["sku"] is None and out["userErrors"][0]["code"] == code, (change, out)
    assert (await gql('{ sku(code: "EB-BAD-1") { id } }', token=tokens[ADMIN]))["data"]["sku"] is None
