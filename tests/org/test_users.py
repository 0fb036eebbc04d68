"""Accounts: who may see and manage whom, and every bad input refused without a trace."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

ADMIN, DEALER1, DEALER2 = "admin@demo.example", "dealer1@demo.example", "dealer2@demo.example"
SUB1, STORE1, STAFF1, ANALYST = (
    "subdealer1@demo.example", "store1@demo.example", "staff1@demo.example", "analyst@demo.example"
)

CREATE = """mutation($i: UserCreateInput!) { userCreate(input: $i) {
  user { id email name role status dealer { code } store { code } } userErrors { field code message } } }"""
UPDATE = """mutation($i: UserUpdateInput!) { userUpdate(input: $i) {
  user { email name status } userErrors { field code } } }"""
LOGIN = """mutation($e: String!, $p: String!) {
  tokenCreate(input: {email: $e, password: $p}) { token userErrors { code } } }"""


async def _ids(gql: Any, tokens: dict[str, str]) -> dict[str, str]:
    q = '{ d1: dealer(code: "D0001") { id } d2: dealer(code: "D0002") { id } sub: dealer(code: "D0001-01") { id } }'
    data = (await gql(q, token=tokens[ADMIN]))["data"]
    store = (await gql("{ me { store { id } } }", token=tokens[STORE1]))["data"]["me"]["store"]["id"]
    return {"D0001": data["d1"]["id"], "D0002": data["d2"]["id"], "D0001-01": data["sub"]["id"], "S1": store}


async def test_users_are_scoped_and_hide_passwords(gql: Any, tokens: dict[str, str]) -> None:
    q = "{ users(first: 250) { totalCount edges { node { email role dealer { code } store { code } } } } }"
    everyone = {e["node"]["email"] for e in (await gql(q, token=tokens[ADMIN]))["data"]["users"]["edges"]}
    assert {ADMIN, DEALER1, DEALER2, SUB1, STORE1, STAFF1} <= everyone
    mine = {e["node"]["email"] for e in (await gql(q, token=tokens[DEALER1]))["data"]["users"]["edges"]}
    assert {DEALER1, STAFF1, SUB1, STORE1} <= mine  # its staff, its sub-dealer's and its store's people
    assert not mine & {ADMIN, DEALER2, ANALYST}
    alone = {e["node"]["email"] for e in (await gql(q, token=tokens[DEALER2]))["data"]["users"]["edges"]}
    assert DEALER1 not in alone and DEALER2 in alone
    body = await gql("{ users { edges { node { passwordHash } } } }", token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_node_on_a_foreign_user_is_null(gql: Any, tokens: dict[str, str]) -> None:
    me = (await gql("{ me { user { id } } }", token=tokens[DEALER2]))["data"]["me"]["user"]["id"]
    assert (await gql("query($i: ID!) { node(id: $i) { id } }", {"i": me}, token=tokens[DEALER1]))["data"] == {
        "node": None
    }


async def test_dealer_admin_onboards_its_staff_who_can_log_in(gql: Any, tokens: dict[str, str]) -> None:
    ids = await _ids(gql, tokens)
    data = {"email": "New.Staff@D0001.example", "name": "王小明", "password": "long-enough-pw",
            "role": "DEALER_STAFF", "dealerId": ids["D0001"]}
    out = (await gql(CREATE, {"i": data}, token=tokens[DEALER1]))["data"]["userCreate"]
    assert out["userErrors"] == []
    assert out["user"]["email"] == "new.staff@d0001.example" and out["user"]["dealer"] == {"code": "D0001"}
    login = (await gql(LOGIN, {"e": "new.staff@d0001.example", "p": "long-enough-pw"}))["data"]["tokenCreate"]
    assert login["token"]
    me = (await gql("{ me { role dealer { code } } }", token=login["token"]))["data"]["me"]
    assert me == {"role": "DEALER_STAFF", "dealer": {"code": "D0001"}}


@pytest.mark.parametrize(
    ("who", "role", "attach", "expected"),
    [
        (DEALER1, "DEALER_ADMIN", "D0001-01", "ok"),  # the sub-dealer's admin
        (DEALER1, "STORE_STAFF", "S1", "ok"),
        (DEALER1, "HQ_ADMIN", None, "FORBIDDEN"),  # no HQ roles from a dealer
        (DEALER1, "DEALER_STAFF", "D0002", "DEALER_NOT_FOUND"),
        (STAFF1, "DEALER_STAFF", "D0001", "FORBIDDEN"),
        (SUB1, "DEALER_STAFF", "D0001", "FORBIDDEN"),  # its supplier's people are not its own
        (ANALYST, "ANALYST", None, "FORBIDDEN"),
        (ADMIN, "ANALYST", None, "ok"),
    ],
)
async def test_who_may_create_whom(
    who: str, role: str, attach: str | None, expected: str, gql: Any, tokens: dict[str, str]
) -> None:
    ids = await _ids(gql, tokens)
    email = f"{abs(hash((who, role, attach)))}@x.example"
    data: dict[str, Any] = {"email": email, "name": "测试", "password": "0123456789", "role": role}
    if attach == "S1":
        data["storeId"] = ids["S1"]
    elif attach:
        data["dealerId"] = ids[attach]
    body = await gql(CREATE, {"i": data}, token=tokens[who], expect_errors=True)
    if body.get("errors"):
        got = body["errors"][0]["extensions"]["code"]
    else:
        errs = body["data"]["userCreate"]["userErrors"]
        got = errs[0]["code"] if errs else "ok"
    assert got == expected


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"email": "not-an-email"}, "EMAIL_INVALID"),
        ({"email": "dealer2@demo.example"}, "EMAIL_TAKEN"),
        ({"email": "DEALER2@demo.example"}, "EMAIL_TAKEN"),
        ({"password": "short"}, "PASSWORD_TOO_SHORT"),
        ({"name": "  "}, "NAME_BLANK"),
        ({"role": "STORE_STAFF"}, "ROLE_INVALID"),  # store staff with a dealer attached
        ({"role": "HQ_SALES", "dealerId": None}, "ROLE_INVALID"),  # no regions
        ({"role": "HQ_SALES", "dealerId": None, "regionCodes": ["MOON"]}, "REGION_NOT_FOUND"),
    ],
)
async def test_user_create_bad_input_changes_nothing(
    change: dict[str, Any], code: str, gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    ids = await _ids(gql, tokens)
    data = {"email": "fresh@x.example", "name": "某人", "password": "0123456789", "role": "DEALER_STAFF",
            "dealerId": ids["D0001"], **change}
    async with engine.connect() as conn:
        before = (await conn.execute(sa.text("SELECT count(*) FROM users"))).scalar_one()
    out = (await gql(CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["userCreate"]
    assert out["user"] is None and out["userErrors"][0]["code"] == code
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM users"))).scalar_one() == before


async def test_disable_and_password_reset(gql: Any, tokens: dict[str, str]) -> None:
    ids = await _ids(gql, tokens)
    made = (await gql(CREATE, {"i": {"email": "temp@d1.example", "name": "临时", "password": "first-password",
                                     "role": "DEALER_STAFF", "dealerId": ids["D0001"]}},
                      token=tokens[DEALER1]))["data"]["userCreate"]["user"]
    reset = (await gql(UPDATE, {"i": {"id": made["id"], "password": "second-password"}}, token=tokens[DEALER1]))
    assert reset["data"]["userUpdate"]["userErrors"] == []
    assert (await gql(LOGIN, {"e": "temp@d1.example", "p": "first-password"}))["data"]["tokenCreate"]["token"] is None
    assert (await gql(LOGIN, {"e": "temp@d1.example", "p": "second-password"}))["data"]["tokenCreate"]["token"]
    off = (await gql(UPDATE, {"i": {"id": made["id"], "status": "DISABLED"}}, token=tokens[DEALER1]))["data"]
    assert off["userUpdate"]["user"]["status"] == "DISABLED"
    refused = (await gql(LOGIN, {"e": "temp@d1.example", "p": "second-password"}))["data"]["tokenCreate"]
    assert refused == {"token": None, "userErrors": [{"code": "ACCOUNT_DISABLED"}]}


async def test_own_account_and_foreign_accounts(gql: Any, tokens: dict[str, str]) -> None:
    me = (await gql("{ me { user { id } } }", token=tokens[STAFF1]))["data"]["me"]["user"]["id"]
    renamed = await gql(UPDATE, {"i": {"id": me, "name": "张三"}}, token=tokens[STAFF1])
    assert renamed["data"]["userUpdate"]["user"]["name"] == "张三"
    locked = await gql(UPDATE, {"i": {"id": me, "status": "DISABLED"}}, token=tokens[STAFF1], expect_errors=True)
    assert locked["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = (await gql("{ me { user { id } } }", token=tokens[DEALER2]))["data"]["me"]["user"]["id"]
    foreign = (await gql(UPDATE, {"i": {"id": other, "name": "x"}}, token=tokens[DEALER1]))["data"]["userUpdate"]
    assert foreign["userErrors"] == [{"field": ["id"], "code": "USER_NOT_FOUND"}]
