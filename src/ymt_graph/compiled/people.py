"""Compiled fields about people: ``User`` (wherever an actor is shown: ``user``), ``Tenant`` and
the ``me`` root.

Accounts are read through ``org.service.user_select`` (``access.user_scope``), as the resolver
path's user loader does. That scope names the principal's own account (``users.id = <the
person>``), and a plan is shared by everyone acting as a principal of the same shape (the plan
cache leaves the person out of its key, see ``runner.stand_in``): a User field therefore compiles only
when the scope the principal gets does not depend on who the person is (HQ and analysts: the
whole tenant). Otherwise — and always for ``Me.user``, which is the person — the resolver path
answers.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ymt_graph import access
from ymt_graph.access import Principal
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.core import Compiler, NotCompilable, Selection, columns, compiles, compiles_root
from ymt_graph.compiled.org import dealer, store
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.org import service as org_service

users, tenants = org_service.users, org_service.tenants

columns(
    "User",
    id=lambda c: sqljson.gid("User", c),
    email=None, name=None, role=None, status=None, createdAt=sqljson.iso_datetime,
)
compiles("User", "dealer")(lambda c, src, sel: dealer(c, src, sel, "dealer_id"))
compiles("User", "store")(lambda c, src, sel: store(c, src, sel, "store_id"))
columns("Tenant", id=lambda c: sqljson.gid("Tenant", c), code=None, name=None, currency=None)


def _scope_sql(p: Principal) -> tuple[str, list[tuple[str, Any]]]:
    clause = access.user_scope(p, users, org_service.dealers, org_service.stores, org_service.regions)
    compiled = clause.compile(dialect=postgresql.dialect())
    return compiled.string, sorted(compiled.params.items())


@lru_cache(maxsize=1024)
def scope_is_the_principals(p: Principal) -> bool:
    """Whether the accounts ``p`` sees are the same whoever the person acting as ``p`` is (the
    scope's SQL is the same for any user id, or none): only then may a plan show accounts."""
    return _scope_sql(replace(p, user_id=None)) == _scope_sql(replace(p, user_id=-1)) == _scope_sql(
        replace(p, user_id=-2))


def user(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    """The account ``src``'s column ``fk`` names (an actor), as the principal sees it: NULL for
    none (the system, a key) or one not visible."""
    if not scope_is_the_principals(c.p):
        raise NotCompilable("User: the accounts seen depend on the person (their own), plans on the principal")
    return c.related("User", src, sel, fk, lambda ids: org_service.user_select(c.p).where(users.c.id.in_(ids)))


# ---- me ----------------------------------------------------------------------------------------


# ``Me.user`` is the person: it has no compiler (plans are shared by everyone acting as the
# principal), so a ``me { user }`` takes the resolver path.
columns("Me", role=None, scopes=None)
compiles("Me", "dealer")(lambda c, src, sel: dealer(c, src, sel, "dealer_id"))
compiles("Me", "store")(lambda c, src, sel: store(c, src, sel, "store_id"))


@compiles("Me", "tenant")
def _me_tenant(c: Compiler, src: Any, sel: Selection) -> Expr:
    return c.one("Tenant", sel, sa.select(tenants).where(tenants.c.id == src.c.tenant_id))


@compiles_root("me")
def _me(c: Compiler, sel: Selection) -> Expr:
    """``org.resolvers.me``: the principal itself, one row of constants (all of them in the
    plan's cache key)."""
    p = c.p
    scopes = postgresql.array([sa.literal(s, sa.Text) for s in sorted(p.scopes)])
    row: Any = sa.select(
        sa.literal(p.role.value, sa.Text).label("role"),
        sa.cast(scopes, postgresql.ARRAY(sa.Text)).label("scopes"),
        sa.cast(sa.literal(p.tenant_id), sa.BigInteger).label("tenant_id"),
        sa.cast(sa.literal(p.dealer_id), sa.BigInteger).label("dealer_id"),
        sa.cast(sa.literal(p.store_id), sa.BigInteger).label("store_id"),
    )
    return c.one("Me", sel, row)
