"""The full-scale data set: the size of a real customer of this kind (load and speed tests).

It contains the demo's fixed dealers, stores and users unchanged; everything
else is generated deterministically from ``random.Random(42)``.
"""

from __future__ import annotations

from ymt_graph.seed.spec import Scale

FULL = Scale(
    name="full",
    level1_dealers=1_500,
    level2_dealers=6_500,
    stores=30_000,
    product_models=100,
    skus=500,
    suspended_dealers=60,
    discontinued_skus=25,
    draft_skus=5,
)
