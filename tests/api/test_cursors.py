"""A forged cursor — well-formed, with keys of the wrong types — is bad input on every list,
root or nested, on both read paths; never a database error."""

from __future__ import annotations

from typing import Any

import pytest

from ymt_graph.paging import encode_cursor

ADMIN = "admin@demo.example"
FORGED = [
    ("skus", encode_cursor(["AC-CK1-BLU", "abc"])),
    ("skus", encode_cursor([12, 3])),
    ("dealers", encode_cursor(["D0001", True])),
    ("orders", encode_cursor(["7"])),
    ("stockLevels", encode_cursor(["W-1", 2])),
]


@pytest.mark.parametrize(("field", "cursor"), FORGED)
async def test_forged_root_cursor_is_bad_input(field: str, cursor: str, gql: Any, tokens: dict[str, str]) -> None:
    body = await gql(f"query($a: String) {{ {field}(first: 2, after: $a) {{ totalCount }} }}", {"a": cursor},
                     token=tokens[ADMIN], expect_errors=True)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body


async def test_forged_nested_cursor_is_bad_input(gql: Any, tokens: dict[str, str]) -> None:
    query = 'query($a: String) { dealer(code: "D0001") { stores(first: 2, after: $a) { totalCount } } }'
    body = await gql(query, {"a": encode_cursor(["S00001", "x"])}, token=tokens[ADMIN], expect_errors=True)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    good = await gql(query, {"a": encode_cursor(["S00001", 1])}, token=tokens[ADMIN])
    assert good["data"]["dealer"]["stores"]["totalCount"] > 0
