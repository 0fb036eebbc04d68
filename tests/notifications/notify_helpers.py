"""Helpers of the notifications tests: demo ids, a clean slate, a real HTTP receiver."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.notifications import service


@dataclass(frozen=True)
class Demo:
    tenant_id: int
    d1: int  # D0001
    d2: int  # D0002


async def demo_ids(engine: AsyncEngine) -> Demo:
    async with engine.connect() as conn:
        tenant = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        rows = dict((await conn.execute(sa.text(
            "SELECT code, id FROM dealers WHERE code IN ('D0001', 'D0002')"))).all())
    return Demo(tenant, rows["D0001"], rows["D0002"])


async def clean_slate(engine: AsyncEngine) -> None:
    """Earlier tests of the module leave subscriptions and events: retire them."""
    async with engine.begin() as conn:
        await conn.execute(sa.update(service.subscriptions).values(active=False, deleted_at=sa.func.now()))
        await conn.execute(sa.update(service.events).where(service.events.c.published_at.is_(None))
                           .values(published_at=sa.func.now()))


async def add_subscription(
    engine: AsyncEngine, tenant_id: int, url: str, event_types: list[str], owner: int | None = None
) -> tuple[int, str]:
    secret = "whsec_test_" + url[-6:]
    async with engine.begin() as conn:
        new_id = (await conn.execute(sa.insert(service.subscriptions).values(
            tenant_id=tenant_id, url=url, event_types=event_types, secret=secret, owner_dealer_id=owner,
        ).returning(service.subscriptions.c.id))).scalar_one()
    return int(new_id), secret


from live_helpers import Received, Receiver, receiver  # noqa: E402  (shared with the acceptance tests)

__all__ = ["Received", "Receiver", "receiver"]
