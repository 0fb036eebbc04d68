"""The fast field walk must answer exactly as graphql-core does: a differential test
over queries that exercise leaves, objects, nulls, errors, aliases and fragments."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry

from ymt_graph.api.executor import FastExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    code: str
    size: int | None
    colour: Colour


@strawberry.type
class Item:
    name: str
    count: int
    maybe: str | None
    leaf: Leaf
    optional_leaf: Leaf | None
    must_not_be_null: str  # some items break this promise on purpose

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self) -> Leaf:
        return self.leaf

    @strawberry.field
    def boom(self) -> str | None:
        raise ValueError("resolver failed")


@strawberry.type
class Query:
    @strawberry.field
    async def items(self) -> list[Item]:
        good = Leaf(code="a", size=None, colour=Colour.RED)
        return [
            Item(name="one", count=1, maybe=None, leaf=good, optional_leaf=None, must_not_be_null="ok"),
            Item(name="two", count=2, maybe="x", leaf=Leaf(code="b", size=3, colour=Colour.BLUE),
                 optional_leaf=good, must_not_be_null=None),  # type: ignore[arg-type]
        ]

    @strawberry.field
    def broken_leaf(self) -> Item | None:
        bad = Leaf(code=None, size=1, colour=Colour.RED)  # type: ignore[arg-type]
        return Item(name="x", count=1, maybe=None, leaf=bad, optional_leaf=bad, must_not_be_null="ok")

    @strawberry.field
    def wrong_scalar(self) -> Item:
        return Item(name="x", count="not a number", maybe=None,  # type: ignore[arg-type]
                    leaf=Leaf(code="c", size=1, colour=Colour.RED), optional_leaf=None, must_not_be_null="ok")


fast = strawberry.Schema(Query, execution_context_class=FastExecutionContext)
reference = strawberry.Schema(Query)

QUERIES = [
    "{ items { name count maybe leaf { code size colour } optionalLeaf { code } } }",
    "{ items { b: count a: name shout later { code } name __typename } }",
    "{ items { ...F leaf { ... on Leaf { code } } } } fragment F on Item { count maybe }",
    "{ items { name mustNotBeNull } }",  # a null in a non-null field nulls the item's parent
    "{ items { name boom leaf { colour } } }",
    "{ brokenLeaf { name leaf { code } } }",  # the error propagates to the nullable brokenLeaf
    "{ brokenLeaf { name optionalLeaf { code size } } }",  # stops at the nullable optionalLeaf
    "{ wrongScalar { name count } }",
    "query($skip: Boolean!) { items { name count @skip(if: $skip) leaf @include(if: $skip) { code } } }",
]


def _canonical(result: Any) -> Any:
    errors = sorted(
        (e.message, tuple(e.path or ()), tuple((loc.line, loc.column) for loc in e.locations or ()))
        for e in result.errors or ()
    )
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("skip", [True, False])
async def test_same_answer_as_graphql_core(query: str, skip: bool) -> None:
    variables = {"skip": skip} if "$skip" in query else None
    expected = await reference.execute(query, variable_values=variables)
    got = await fast.execute(query, variable_values=variables)
    assert _canonical(got) == _canonical(expected)
    if expected.data is not None:
        # Key order is the selection order, as graphql-core gives it.
        assert repr(got.data) == repr(expected.data)
