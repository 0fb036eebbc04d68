"""SQL expressions that write scalars exactly as the resolver path serialises them.

Each mirrors one Python encoder: ``encode_gid`` (base64url of "Type:pk", unpadded),
``paging.encode_cursor`` (base64url of the orjson list of sort keys), strawberry's DateTime
(``datetime.isoformat()`` of a UTC value: microseconds only when non-zero), Decimal (``str``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

Expr = ColumnElement[Any]


def base64url(raw_text: Any) -> Expr:
    """base64url without padding of a text's UTF-8 bytes (PostgreSQL wraps base64 at 76
    characters: the newlines go with the translation)."""
    b64 = sa.func.encode(sa.func.convert_to(raw_text, "UTF8"), "base64")
    return sa.func.rtrim(sa.func.translate(b64, "+/\n", "-_"), "=")


def gid(type_name: str, pk: Any) -> Expr:
    """``encode_gid(type_name, pk)``; NULL for a NULL pk."""
    return sa.case((pk.is_(None), sa.null()), else_=base64url(sa.func.concat(f"{type_name}:", pk)))


def json_text(value: Any) -> Expr:
    """A value as orjson writes it inside a list (``to_json`` matches it for text and ints)."""
    return sa.cast(sa.func.to_json(value), sa.Text)


def cursor(*keys: Any) -> Expr:
    """``encode_cursor([k1, k2, …])``: orjson writes lists without spaces."""
    parts: list[Any] = ["["]
    for i, key in enumerate(keys):
        if i:
            parts.append(",")
        parts.append(json_text(key))
    parts.append("]")
    return base64url(sa.func.concat(*parts))


def iso_datetime(ts: Any) -> Expr:
    """A timestamptz as ``datetime.isoformat()`` writes it in UTC; NULL stays NULL."""
    utc = sa.func.timezone("UTC", ts)
    micro = sa.cast(sa.extract("microseconds", ts), sa.BigInteger) % 1_000_000
    fraction = sa.case((micro == 0, ""), else_=sa.func.to_char(utc, ".US"))
    text = sa.func.concat(sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS'), fraction, "+00:00")
    return sa.case((ts.is_(None), sa.null()), else_=text)


def iso_date(d: Any) -> Expr:
    return sa.func.to_char(d, "YYYY-MM-DD")


def decimal(amount: Any) -> Expr:
    """A NUMERIC as ``str(Decimal)`` (a string in JSON, never a number)."""
    return sa.cast(amount, sa.Text)


def json_object(pairs: list[tuple[str, Any]]) -> Expr:
    """``json_build_object`` keeps keys in selection order (jsonb would sort them). Past 50
    keys PostgreSQL's 100-argument limit applies: such selections are not compiled."""
    args: list[Any] = []
    for key, value in pairs:
        args += [sa.literal(key, sa.Text), value]
    return sa.func.json_build_object(*args, type_=sa.JSON)

