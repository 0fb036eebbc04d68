"""Demo data: the ``demo`` tenant with its regions, dealer tree, stores, warehouses,
catalog, assortment rules and one login per role (password ``DEMO_PASSWORD``).

``await seed(url)`` builds the demo scale (~50 dealers, 200 stores, 120 SKUs);
``scale="full"`` the size of a real customer (8,000 dealers, 30,000 stores,
500 SKUs). Both contain the same fixed rows (D0001, D0002, D0001-01, S00001 …
and the logins), so tests written against one hold on the other.
"""

from ymt_graph.seed.demo import DEMO_LOGINS, DEMO_PASSWORD
from ymt_graph.seed.runner import SCALES, SeedReport, seed

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "SCALES", "SeedReport", "seed"]
