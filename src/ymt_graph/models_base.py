"""Column helpers shared by every domain's table models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field


def pk() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=True))


def tenant_fk() -> Any:
    return Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("tenants.id"), nullable=False))


def fk(target: str, *, nullable: bool = True, ondelete: str | None = None) -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable),
    )


def money(*, nullable: bool = False, default: Decimal | None = None) -> Any:
    return Field(
        default=default,
        sa_column=sa.Column(
            sa.Numeric(18, 2),
            nullable=nullable,
            server_default=None if default is None else sa.text(str(default)),
        ),
    )


def created_at() -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def updated_at() -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


__all__ = ["created_at", "datetime", "fk", "money", "pk", "tenant_fk", "updated_at"]
