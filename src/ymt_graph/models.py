"""Every domain's tables, imported once so SQLModel.metadata is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from ymt_graph.aftersales import models as aftersales_models
from ymt_graph.catalog import models as catalog_models
from ymt_graph.inventory import models as inventory_models
from ymt_graph.notifications import models as notifications_models
from ymt_graph.orders import models as orders_models
from ymt_graph.org import models as org_models
from ymt_graph.pricing import models as pricing_models
from ymt_graph.shipping import models as shipping_models

metadata = SQLModel.metadata

__all__ = [
    "aftersales_models", "catalog_models", "inventory_models", "metadata", "notifications_models", "orders_models",
    "org_models", "pricing_models", "shipping_models",
]
