"""Which read path answers, and what a developer sees of it (YMT_DEBUG_SQL): compilable queries
are one statement, planned once; anything else — a field without a compiler, a mutation, a
compiler that fails — takes the resolver path and still answers right."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.compiled import core, runner
from ymt_graph.db import count_statements
from ymt_graph.graph.ids import encode_gid
from ymt_graph.paging import encode_cursor
from ymt_graph.settings import Settings

ADMIN, DEALER1, DEALER2, SUB1 = ("admin@demo.example", "dealer1@demo.example", "dealer2@demo.example",
                                 "subdealer1@demo.example")
PAGE = "query Page($n: Int!) { skus(first: $n) { edges { node { code category { code } } } } }"


@pytest.fixture
async def debug_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from ymt_graph.app import create_app

    app = create_app(settings.model_copy(update={"debug_sql": True}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://debug") as c:
        yield c


async def _post(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {token}"})
    return r.json()


async def test_debug_flag_logs_the_path_and_the_sql(
    debug_client: httpx.AsyncClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    runner.clear_plans()
    with caplog.at_level(logging.INFO, logger="ymt_graph.compiled"):
        await _post(debug_client, tokens[ADMIN], PAGE, {"n": 3})
        await _post(debug_client, tokens[ADMIN],
                    "query Me { me { role user { email } } skus(first: 1) { totalCount } }")
    messages = [r.getMessage() for r in caplog.records if r.name == "ymt_graph.compiled"]
    compiled = next(m for m in messages if m.startswith("operation Page: compiled in"))
    assert "SELECT" in compiled and "convert_to" in compiled
    # Me.user is the person: no compiler (a plan serves everyone acting as the principal).
    assert any(m.startswith("operation Me: resolver path (Me.user)") for m in messages), messages


async def test_a_plan_is_built_once_and_reused(
    debug_client: httpx.AsyncClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture, engine: AsyncEngine
) -> None:
    runner.clear_plans()
    with caplog.at_level(logging.INFO, logger="ymt_graph.compiled"):
        first = await _post(debug_client, tokens[ADMIN], PAGE, {"n": 2})
        with count_statements(engine) as counter:
            again = await _post(debug_client, tokens[ADMIN], PAGE, {"n": 2})
        # Another page size is another plan: `first` is written into the SQL (the planner's LIMIT).
        other = await _post(debug_client, tokens[ADMIN], PAGE, {"n": 5})
        await _post(debug_client, tokens[ADMIN], PAGE, {"n": 5})
    built = [r for r in caplog.records if r.getMessage().startswith("operation Page: compiled")]
    assert len(built) == 2, [r.getMessage()[:80] for r in built]
    assert "LIMIT 2 + 1" in built[0].getMessage() and "LIMIT 5 + 1" in built[1].getMessage()
    assert counter.count == 1
    assert first == again and len(first["data"]["skus"]["edges"]) == 2
    assert len(other["data"]["skus"]["edges"]) == 5


async def test_principals_of_one_shape_share_a_plan(
    debug_client: httpx.AsyncClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A plan is per document and shape of principal (runner.stand_in), not per principal: the
    admins of D0001 and D0002 (each at the top of its tree) run one plan, whose SQL holds
    neither's ids, and each sees its own dealers; a sub-dealer's deeper tree is another shape."""
    runner.clear_plans()
    q = "query Mine { dealers(first: 50) { edges { node { code } } } }"
    with caplog.at_level(logging.INFO, logger="ymt_graph.compiled"):
        mine = {who: await _post(debug_client, tokens[who], q) for who in (DEALER1, DEALER2, SUB1)}
    built = [r.getMessage() for r in caplog.records if r.getMessage().startswith("operation Mine: compiled in")]
    assert len(built) == 2, built  # DEALER1 and DEALER2 share one; SUB1 has its own
    codes = {who: [e["node"]["code"] for e in answer["data"]["dealers"]["edges"]] for who, answer in mine.items()}
    assert codes[DEALER1] and all(c.startswith("D0001") for c in codes[DEALER1])
    assert codes[DEALER2] and all(c.startswith("D0002") for c in codes[DEALER2])
    # Its own subtree and its supplier above it, by name.
    assert "D0001-01" in codes[SUB1] and set(codes[SUB1]) < set(codes[DEALER1])
    plans = [plan for plan in runner._plans.values() if isinstance(plan, runner.Plan)]
    assert len(plans) == 2 and all(plan.principal_args for plan in plans)
    assert all("LIKE '" not in plan.sql and "tenant_id = 1" not in plan.sql for plan in plans)


def test_a_stand_in_keeps_the_shape_of_a_principal_and_not_its_ids() -> None:
    dealer_a = Principal(tenant_id=1, role=Role.DEALER_ADMIN, user_id=5, dealer_id=1, dealer_path="/1/")
    dealer_b = Principal(tenant_id=1, role=Role.DEALER_ADMIN, user_id=9, dealer_id=2, dealer_path="/2/")
    deeper = Principal(tenant_id=1, role=Role.DEALER_ADMIN, dealer_id=7, dealer_path="/1/7/")
    a, b = runner.stand_in(dealer_a), runner.stand_in(dealer_b)
    assert a.principal == b.principal != runner.stand_in(deeper).principal
    assert a.principal.user_id is None and a.principal.dealer_id != a.principal.tenant_id  # kinds apart
    assert (a.values, b.values) == ((1, 1), (1, 2))
    sales = runner.stand_in(Principal(tenant_id=3, role=Role.HQ_SALES, region_paths=("/1/4/", "/1/9/")))
    literal = sales.principal.region_paths[1].replace("/", "//") + "%"  # as LIKE writes it, escaped
    assert runner._principal_value(literal)(sales.values) == "//1//9//%"
    assert runner._principal_value(sales.principal.tenant_id)(sales.values) == 3


async def test_numbers_past_a_bigint_are_nobodys_ids(
    debug_client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """A stand-in's ids are past the largest bigint, so a document's own constants can never be
    taken for them: an id or a cursor key that large names no row (on either path), it is not
    swapped for the principal's id."""
    big = runner.SENTINEL_BASE  # the first sentinel: the stand-in's tenant
    by_id = f'{{ dealer(id: "{encode_gid("Dealer", big)}") {{ code }} }}'
    paged = f'{{ dealers(first: 2, after: "{encode_cursor(["D0001", big])}") {{ edges {{ node {{ code }} }} }} }}'
    for who in (DEALER1, ADMIN):
        assert (await _post(debug_client, tokens[who], by_id))["data"] == {"dealer": None}
        refused = await _post(debug_client, tokens[who], paged)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", refused


async def test_mutations_take_the_resolver_path(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    runner.clear_plans()
    body = await _post(client, tokens[ADMIN], 'mutation { tokenRefresh(input: {refreshToken: "x"}) { token } }')
    assert "data" in body
    assert all(plan is runner._NOT_COMPILABLE or plan is None for plan in runner._plans.values())


async def test_a_failing_compiler_costs_the_client_nothing(
    client: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner.clear_plans()

    def broken(c: Any, src: Any, sel: Any) -> Any:
        raise RuntimeError("a compiler bug")

    monkeypatch.setitem(core.TYPES["Category"], "code", broken)
    with caplog.at_level(logging.ERROR, logger="ymt_graph.compiled"):
        body = await _post(client, tokens[ADMIN], PAGE, {"n": 2})
    assert "errors" not in body and len(body["data"]["skus"]["edges"]) == 2
    assert body["data"]["skus"]["edges"][0]["node"]["category"]["code"]
    assert any("compiling Page failed" in r.getMessage() for r in caplog.records)
    runner.clear_plans()
