"""SQL expressions that write a response as JSON text, scalars exactly as the resolver path
serialises them.

Each scalar encoder mirrors one Python encoder: ``encode_gid`` (base64url of "Type:pk",
unpadded), ``paging.encode_cursor`` (base64url of the orjson list of sort keys), strawberry's
DateTime (``datetime.isoformat()`` of a UTC value: microseconds only when non-zero), Decimal
(``str``).

Objects and lists are built by text concatenation (``'{"code":' || … || '}'``), not with
``json_build_object``/``json_agg``: those look up the type and output function of every key
and value on every call, which made a 100-row page spend most of its time in the catalog
caches. Here the keys are literal text, and each value is converted by what its SQL type
says (``value``): integers and booleans by a cast, strings that never need escaping (ids,
cursors, decimals, times: ``Bare``) by quoting, other strings by ``to_json``, and objects
and lists already built (``JsonText``) as they are.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement, Null

Expr = ColumnElement[Any]


class JsonText(sa.Text):
    """SQL text that is a JSON document already (an object, a list): embedded as it is."""


class Bare(sa.Text):
    """A string that never needs JSON escaping (base64url, digits, ISO times)."""


def literal_text(text: str, type_: Any = JsonText) -> Expr:
    """A constant written into the SQL (no parameter: it is the statement's, whoever asks)."""
    return sa.literal_column("'" + text.replace("'", "''") + "'", type_)


NULL = literal_text("null")


def value(expr: Any) -> Expr:
    """The JSON text of a field's value; ``null`` when it is NULL."""
    if isinstance(expr, Null):
        return NULL
    if isinstance(expr, BindParameter) and not expr.required:
        # A constant of the document (``__typename``, ``hasPreviousPage``): written here.
        constant: Any = expr.value
        constant = getattr(constant, "value", constant)  # an enum member: its name
        return literal_text(orjson.dumps(constant).decode())
    type_ = expr.type
    if isinstance(expr, BindParameter):
        expr = sa.cast(expr, type_)  # a variable's value: PostgreSQL must know its type
    if isinstance(type_, JsonText):
        text = expr
    elif isinstance(type_, Bare):
        text = literal_text('"', sa.Text) + expr + literal_text('"', sa.Text)
    elif isinstance(type_, (sa.Integer, sa.Boolean)):
        text = sa.cast(expr, sa.Text)  # 12, true: as JSON writes them
    else:  # other strings (escaped), numbers, JSON columns, arrays
        text = sa.cast(sa.func.to_json(expr), sa.Text)
    return sa.type_coerce(sa.func.coalesce(text, NULL), JsonText)


def concat(*parts: Any) -> Expr:
    """``a || b || …`` over text (never ``concat()``, which looks up each argument's output
    function on every call); adjacent constants are merged."""
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str):
            if merged and isinstance(merged[-1], str):
                merged[-1] += part
            else:
                merged.append(part)
        else:
            merged.append(part)
    out: Any = None
    for part in merged:
        piece = literal_text(part, sa.Text) if isinstance(part, str) else part
        out = piece if out is None else out + piece
    return out


def json_object(pairs: list[tuple[str, Any]]) -> Expr:
    """An object with keys in selection order; never NULL (a value that is becomes ``null``)."""
    parts: list[Any] = []
    for i, (key, item) in enumerate(pairs):
        parts += [("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":", value(item)]
    parts.append("}" if pairs else "{}")
    return sa.type_coerce(concat(*parts), JsonText)


def json_array(item: Expr, order_by: Any, where: Any = None) -> Expr:
    """``[item, …]`` over the rows aggregated, in ``order_by`` (``[]`` when none)."""
    agg: Any = sa.func.string_agg(value(item), literal_text(",", sa.Text)).aggregate_order_by(*order_by)
    if where is not None:
        agg = agg.filter(where)
    return sa.type_coerce(concat("[", sa.func.coalesce(agg, literal_text("", sa.Text)), "]"), JsonText)


def base64url(raw_text: Any, *, ascii_only: bool = False) -> Expr:
    """base64url without padding of a text's UTF-8 bytes. PostgreSQL wraps base64 at 76
    characters: the newlines go too. ``replace`` four times, not ``translate`` and ``rtrim``,
    which work character by character for any encoding (three times the cost, on every id of a
    page). ``ascii_only``: the text is ASCII (``Type:pk``), whose bytes are the same in any
    server encoding: ``textsend`` gives them without the conversion ``convert_to`` looks up."""
    raw = sa.func.textsend(raw_text) if ascii_only else sa.func.convert_to(raw_text, "UTF8")
    b64: Any = sa.func.encode(raw, "base64")
    for old, new in (("\n", ""), ("+", "-"), ("/", "_"), ("=", "")):
        b64 = sa.func.replace(b64, old, new, type_=Bare)
    return b64


def gid(type_name: str, pk: Any) -> Expr:
    """``encode_gid(type_name, pk)``; NULL for a NULL pk (and so for a NULL pk's text)."""
    return base64url(concat(f"{type_name}:", sa.cast(pk, sa.Text)), ascii_only=True)


def json_text(item: Any) -> Expr:
    """A value as orjson writes it inside a list (``to_json`` matches it for text and ints)."""
    return sa.cast(sa.func.to_json(item), sa.Text)


def cursor(*keys: Any) -> Expr:
    """``encode_cursor([k1, k2, …])``: orjson writes lists without spaces."""
    parts: list[Any] = ["["]
    for i, key in enumerate(keys):
        if i:
            parts.append(",")
        parts.append(json_text(key))
    parts.append("]")
    return base64url(concat(*parts))


def iso_datetime(ts: Any) -> Expr:
    """A timestamptz as ``datetime.isoformat()`` writes it in UTC; NULL stays NULL."""
    utc = sa.func.timezone("UTC", ts)
    micro = sa.cast(sa.extract("microseconds", ts), sa.BigInteger) % 1_000_000
    fraction = sa.case((micro == 0, literal_text("", sa.Text)), else_=sa.func.to_char(utc, ".US", type_=sa.Text))
    text = concat(sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS', type_=sa.Text), fraction, "+00:00")
    return sa.type_coerce(text, Bare)


def iso_date(d: Any) -> Expr:
    return sa.func.to_char(d, "YYYY-MM-DD", type_=Bare)


def decimal(amount: Any) -> Expr:
    """A NUMERIC as ``str(Decimal)`` (a string in JSON, never a number)."""
    return sa.cast(amount, Bare)
