"""The differential corpus's machinery (no fixtures: those are in conftest.py), a module of its
own so that test modules import it by a name no other test directory uses.

``Both.run`` runs one operation on both paths; ``Both.trace`` also tells whether the compiled
path answered it, and why not (``Outcome``); ``problems`` says what is wrong with an outcome
(the bodies differ after canonical key ordering, the compiled path crashed…). ``World`` holds the
ids of the demo data and of a few orders; ``missing_fields`` reads the registries
(``ymt_graph.compiled.core.TYPES``/``ROOTS``) at run time, so that types the compiler learns later
are covered without editing the tests. ``REPORT`` is printed at the end of the run ("compiled read
path: differential corpus"): what ran on which path.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLInterfaceType,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    visit,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements

# Every demo login (tests/conftest.py ``tokens``), in the order reports list them.
ROLES = (
    "admin@demo.example",
    "sales.east@demo.example",
    "analyst@demo.example",
    "dealer1@demo.example",
    "staff1@demo.example",
    "dealer2@demo.example",
    "subdealer1@demo.example",
    "store1@demo.example",
)


def canonical(body: Any) -> bytes:
    """JSON with keys sorted: what both paths must agree on byte for byte."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


_REQUEST_ID = re.compile(r"request id [0-9a-zA-Z_-]+")


def normalized(body: Any) -> Any:
    """The body without what differs per request by design: errors' ``extensions.requestId``
    and the request id an internal error's message names."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    errors = []
    for error in body["errors"]:
        if isinstance(error, dict):
            error = dict(error)
            if isinstance(error.get("extensions"), dict):
                error["extensions"] = {k: v for k, v in error["extensions"].items() if k != "requestId"}
            if isinstance(error.get("message"), str):
                error["message"] = _REQUEST_ID.sub("request id <id>", error["message"])
        errors.append(error)
    return {**body, "errors": errors}


# -- did the compiled path answer? ------------------------------------------------------------

# Why the compiler last refused a document (``NotCompilable``'s message, or its crash), by
# (query text, token): a refusal is cached per (document, principal, shape of variables), so
# later requests only find the cached refusal.
_refusals: dict[tuple[str, str], str] = {}


class _Errors(logging.Handler):
    """ERROR records of the compiled path: a compiler crash, or a statement PostgreSQL refused
    (both answered on the resolver path, so only the log tells)."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        what = record.getMessage().splitlines()[0]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            what += f": {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        self.into.append(what)


@contextmanager
def _traced(key: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """Spy on ``runner.answer`` (data or None: compiled or not), ``runner.build_plan`` (why not)
    and the compiled path's log (its errors)."""
    from ymt_graph.compiled import runner
    from ymt_graph.compiled.core import NotCompilable

    seen: dict[str, Any] = {"answered": None, "why": None, "errors": []}
    handler = _Errors(seen["errors"])
    logger = logging.getLogger("ymt_graph.compiled")
    real_answer, real_build = runner.answer, runner.build_plan

    async def answer(*args: Any, **kwargs: Any) -> Any:
        data = await real_answer(*args, **kwargs)
        seen["answered"] = data is not None
        return data

    def build_plan(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_build(*args, **kwargs)
        except NotCompilable as exc:
            seen["why"] = _refusals[key] = str(exc)
            raise
        except Exception as exc:
            _refusals[key] = f"ERROR {type(exc).__name__}: {exc}".splitlines()[0]
            raise

    runner.answer, runner.build_plan = answer, build_plan  # type: ignore[assignment]
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        runner.answer, runner.build_plan = real_answer, real_build  # type: ignore[assignment]


NOT_EXECUTED = "not executed"


@dataclass
class Outcome:
    """One operation on both paths."""

    query: str
    variables: dict[str, Any] | None
    fast: Any  # the compiled app's body
    slow: Any  # the reference app's body
    fast_status: int
    slow_status: int
    statements: int  # on the compiled app
    compiled: bool  # the compiled path answered (one statement, no resolvers)
    why: str | None  # why not, when known
    errors: list[str]  # the compiled path's logged errors (crash, statement refused)

    def mismatch(self) -> str | None:
        """None when both bodies (and HTTP statuses) agree, else a report of the difference."""
        a, b = canonical(normalized(self.fast)), canonical(normalized(self.slow))
        if a == b and self.fast_status == self.slow_status:
            return None
        return (f"compiled={self.compiled} statuses {self.fast_status}/{self.slow_status}\n"
                f"query: {self.query}\nvariables: {self.variables}\n" + diff(self.fast, self.slow))


def diff(fast: Any, slow: Any, limit: int = 12) -> str:
    """The differing leaves of two bodies (compiled vs reference), at most ``limit``."""
    found = _differences(normalized(fast), normalized(slow))
    return "\n".join(f"  {at}: compiled {_text(a)} / reference {_text(b)}" for at, a, b in found[:limit])


def _text(value: Any) -> str:
    return canonical(value).decode()[:400]


def _differences(fast: Any, slow: Any, at: str = "$") -> list[tuple[str, Any, Any]]:
    """(path, compiled value, reference value) of every differing leaf."""
    if isinstance(fast, dict) and isinstance(slow, dict):
        return [d for k in sorted(set(fast) | set(slow))
                for d in _differences(fast.get(k, "<absent>"), slow.get(k, "<absent>"), f"{at}.{k}")]
    if isinstance(fast, list) and isinstance(slow, list) and len(fast) == len(slow):
        return [d for i, (a, b) in enumerate(zip(fast, slow, strict=True)) for d in _differences(a, b, f"{at}[{i}]")]
    return [] if canonical(fast) == canonical(slow) else [(at, fast, slow)]


class Both:
    """Run one operation on both paths; return both bodies and the compiled path's statements."""

    def __init__(self, compiled: httpx.AsyncClient, reference: httpx.AsyncClient, engine: AsyncEngine) -> None:
        self.compiled, self.reference, self.engine = compiled, reference, engine

    async def run(self, query: str, variables: dict[str, Any] | None, token: str) -> tuple[Any, Any, int]:
        payload = {"query": query, "variables": variables or {}}
        headers = {"Authorization": f"Bearer {token}"}
        with count_statements(self.engine) as counter:
            fast = (await self.compiled.post("/graphql", json=payload, headers=headers)).json()
        slow = (await self.reference.post("/graphql", json=payload, headers=headers)).json()
        return fast, slow, counter.count

    async def trace(self, query: str, variables: dict[str, Any] | None, token: str,
                    operation_name: str | None = None) -> Outcome:
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            payload["operationName"] = operation_name
        headers = {"Authorization": f"Bearer {token}"}
        with count_statements(self.engine) as counter, _traced((query, token)) as seen:
            fast = await self.compiled.post("/graphql", json=payload, headers=headers)
        slow = await self.reference.post("/graphql", json=payload, headers=headers)
        compiled = bool(seen["answered"])
        why = None
        if seen["answered"] is None:  # refused before execution (validation, cost): neither path ran
            body = _json(slow)
            codes = sorted({str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or ()})
            why = f"{NOT_EXECUTED} ({', '.join(codes)})"
        elif not compiled:
            why = seen["why"] or (f"ERROR {seen['errors'][0]}" if seen["errors"] else None)
            cached = _refusals.get((query, token))
            why = why or (f"cached: {cached}" if cached else "a request value (cursor, first, quantity…)")
        return Outcome(query, variables, _json(fast), _json(slow), fast.status_code, slow.status_code,
                       counter.count, compiled, why, seen["errors"])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"<non-JSON>": response.text[:500]}


# -- what the registries say compiles ---------------------------------------------------------

# Types the compiler builds itself rather than through ``TYPES`` (core.connection, core.money,
# pricing's ResolvedPrice), with the fields it knows.
STRUCTURAL: dict[str, frozenset[str]] = {
    "PageInfo": frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}),
    "Money": frozenset({"amount", "currency"}),
    "ResolvedPrice": frozenset({"amount", "list", "break", "why"}),
    "Location": frozenset({"lat", "lng"}),
}
CONNECTION_FIELDS = frozenset({"edges", "pageInfo", "totalCount"})
EDGE_FIELDS = frozenset({"cursor", "node"})


def registries() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``(TYPES, ROOTS)`` once every centre module has registered its fields."""
    from ymt_graph.compiled import runner  # noqa: F401  (imports the centre modules)
    from ymt_graph.compiled.core import ROOTS, TYPES

    return TYPES, ROOTS


def field_compilable(schema: GraphQLSchema, parent: Any, name: str) -> bool:
    """Whether the registries know ``parent.name`` (a type of the real schema)."""
    types, roots = registries()
    if name == "__typename":
        return True
    if parent is schema.query_type:
        return name in roots
    if isinstance(parent, GraphQLInterfaceType):
        impls = [t for t in schema.get_possible_types(parent) if t.name in types]
        return bool(impls) and all(name in types[t.name] for t in impls)
    type_name = parent.name
    if type_name in STRUCTURAL:
        return name in STRUCTURAL[type_name]
    if type_name.endswith("Connection") and type_name[: -len("Connection")] in types:
        return name in CONNECTION_FIELDS
    if type_name.endswith("Edge") and type_name[: -len("Edge")] in types:
        return name in EDGE_FIELDS
    return name in types.get(type_name, {})


def missing_fields(schema: GraphQLSchema, document: DocumentNode | str, operation_name: str | None = None) -> list[str]:
    """``Type.field`` of every field the operation (the named one, if given) selects that the
    registries do not know (empty: it should compile)."""
    doc = parse(document) if isinstance(document, str) else document
    if operation_name is not None:
        doc = DocumentNode(definitions=tuple(
            d for d in doc.definitions
            if not isinstance(d, OperationDefinitionNode) or (d.name is not None and d.name.value == operation_name)))
    info = TypeInfo(schema)
    missing: list[str] = []

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = info.get_parent_type()
            if parent is not None and not field_compilable(schema, parent, node.name.value):
                label = f"{parent.name}.{node.name.value}"
                if label not in missing:
                    missing.append(label)

    visit(doc, TypeInfoVisitor(info, Check()))
    return missing


# The demo logins whose view of accounts (``access.user_scope``) does not name their own account:
# only for them do operations showing a ``User`` compile (a plan serves everyone acting as one
# principal, see ``ymt_graph.compiled.people``); the others take the resolver path by design.
ACCOUNTS_COMPILE_FOR = frozenset({"admin@demo.example", "analyst@demo.example"})


def shows_accounts(schema: GraphQLSchema, document: DocumentNode | str, operation_name: str | None = None) -> bool:
    """Whether the operation selects a ``User`` (an actor): those compile only for principals
    whose view of accounts does not depend on who the person is (``compiled.people``)."""
    doc = parse(document) if isinstance(document, str) else document
    if operation_name is not None:
        doc = DocumentNode(definitions=tuple(
            d for d in doc.definitions
            if not isinstance(d, OperationDefinitionNode) or (d.name is not None and d.name.value == operation_name)))
    info = TypeInfo(schema)
    found = False

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal found
            type_ = info.get_type()
            if type_ is not None and get_named_type(type_).name == "User":
                found = True

    visit(doc, TypeInfoVisitor(info, Check()))
    return found


# -- the report -------------------------------------------------------------------------------


@dataclass
class Report:
    """What ran on which path, per test module (printed at the end of the run)."""

    runs: dict[str, list[tuple[str, str, bool, str | None]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, module: str, label: str, role: str, outcome: Outcome) -> None:
        self.runs[module].append((label, role, outcome.compiled, outcome.why))

    def lines(self) -> list[str]:
        out: list[str] = []
        for module, runs in self.runs.items():
            labels = {r[0] for r in runs}
            done = sum(1 for r in runs if r[2])
            out.append(f"{module}: {len(labels)} operations, {len(runs)} runs (operation x role): "
                       f"{done} compiled, {len(runs) - done} on the resolver path")
            if module == "test_generated":  # fallbacks by reason
                reasons = Counter(_short(r[3] or "?") for r in runs if not r[2])
                for why, n in reasons.most_common():
                    out.append(f"    resolver path: {n} runs: {why}")
                continue
            roles: dict[str, set[str]] = defaultdict(set)
            fell: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
            for label, role, compiled, why in runs:
                roles[label].add(role)
                if not compiled:
                    fell[label][why or "?"].add(role)
            for label in sorted(fell):
                for why, who in sorted(fell[label].items()):
                    names = "all roles" if who == roles[label] else ", ".join(r.split("@")[0] for r in sorted(who))
                    out.append(f"    resolver path: {label} ({names}): {_short(why)}")
        return out


REPORT = Report()


def _short(why: str) -> str:
    return re.sub(r"\s*\(Background on this error at: [^)]*\)", "", why)[:200]


# -- the world the operations read ------------------------------------------------------------


@dataclass
class World:
    """Ids of the demo data (global ids, as clients send them) and a few orders to read."""

    dealer: dict[str, str]  # code -> gid
    warehouse: dict[str, str]  # code -> gid
    store: dict[str, str]  # code -> gid
    skus: list[tuple[str, str]]  # (gid, code) of SKUs D0001 may order
    category: dict[str, str]  # code -> gid
    regions: list[str]  # region codes
    orders: list[tuple[str, str]]  # (gid, number)
    shipments: list[tuple[str, str, str | None]]  # (gid, number, tracking number)
    ids: dict[str, list[str]]  # GraphQL type name -> some gids of it
    codes: dict[str, list[str]]  # GraphQL type name -> some codes (numbers) of it
    tracked: str  # code of a serial-tracked SKU


# -- known bugs and mismatches ------------------------------------------------------------------
# A known bug is answered correctly (the resolver path takes over, so the bodies agree) but should
# not happen (a compiler crash, a statement refused, a needless fallback); a known mismatch is a
# difference of the bodies. Each is recognised here so that the generated corpus can go on past
# it, and has a strict-xfail reproducer in test_screens.py: when it starts passing, remove both.
# Found and since fixed (their reproducers stay as regressions in test_screens.py): an omitted
# optional variable sent the operation down the resolver path; a cursor key of the wrong type
# reached asyncpg and poisoned the cached plan; a literal orders cursor crashed the compiler
# (CompileError, no literal renderer for NullType); sub-dealer and store principals crashed it
# (bind parameter without a value); first: 0 gave a non-null pageInfo.startCursor.

# Key -> (what, a substring of the compiled path's logged error or refusal that identifies it).
KNOWN_BUGS: dict[str, tuple[str, str]] = {}

KNOWN_MISMATCHES: dict[str, str] = {}
# Found and since fixed: a nested connection's page past its end answered totalCount 0 on the
# resolver path; a required variable the request omits was answered with data on the compiled one.


def known_mismatch(outcome: Outcome) -> str | None:
    """Which known mismatch explains every difference of the two bodies, if one does (none now)."""
    return None


def omitted_variables(query: str, variables: dict[str, Any] | None) -> list[str]:
    """Optional variables (nullable, no default) the operation declares and the request omits."""
    from graphql import NonNullTypeNode

    names: list[str] = []
    for definition in parse(query).definitions:
        if isinstance(definition, OperationDefinitionNode):
            for var in definition.variable_definitions or ():
                name = var.variable.name.value
                if var.default_value is None and not isinstance(var.type, NonNullTypeNode) \
                        and name not in (variables or {}):
                    names.append(name)
    return names


def known_bug(outcome: Outcome) -> str | None:
    """Which known bug explains this outcome's fallback or logged error, if one does."""
    said = " | ".join([*outcome.errors, outcome.why or ""])
    return next((key for key, (_what, sign) in KNOWN_BUGS.items() if sign in said), None)


def problems(outcome: Outcome, expect_compiled: bool, tolerate_known_mismatches: bool = False) -> list[str]:
    """What is wrong with one operation's outcome: a mismatch (unless asked to tolerate the known
    ones); a compiled answer in more than one statement; an error of the compiled path or a
    fallback where the registries say it compiles, unless a known bug explains it."""
    found: list[str] = []
    mismatch = outcome.mismatch()
    if mismatch is not None and not (tolerate_known_mismatches and known_mismatch(outcome)):
        found.append(f"the paths differ:\n{mismatch}")
    if outcome.compiled and outcome.statements != 1:
        found.append(f"compiled, but in {outcome.statements} statements")
    known = known_bug(outcome)
    # A crash cached earlier (same document, principal and shape) counts as this request's too.
    errors = outcome.errors or ([outcome.why] if (outcome.why or "").startswith("cached: ERROR") else [])
    if errors and known is None:
        found.append(f"the compiled path failed (the resolver path answered): {errors}")
    if expect_compiled and not outcome.compiled and known is None:
        found.append(f"every field is in the registries, but the resolver path answered ({outcome.why})")
    return found
