"""The demo tenant: its size and the rows tests, docs and demos refer to by name.

Everything listed here exists at every scale with the same properties, so a
test written against the demo data also holds on the full-scale data set.
"""

from __future__ import annotations

from decimal import Decimal

from ymt_graph.seed.spec import DemoUser, FixedDealer, FixedStore, Scale

TENANT_CODE = "demo"
TENANT_NAME = "云途电动车"
TENANT_CURRENCY = "CNY"

DEMO_PASSWORD = "demo-password"

DEMO = Scale(
    name="demo",
    level1_dealers=20,
    level2_dealers=30,
    stores=200,
    product_models=30,
    skus=120,
    suspended_dealers=2,
    discontinued_skus=6,
    draft_skus=2,
)

# D0001 sits in the EAST area and D0002 in SOUTH: HQ_SALES of EAST sees the first, not the second.
# D0002 is tier B so that the explicit premium grant (and only it) lets it order a premium SKU.
FIXED_DEALERS: tuple[FixedDealer, ...] = (
    FixedDealer("D0001", "杭州速骑电动车销售有限公司", "ZJ-HZ", "A", Decimal("5000000.00"), 60,
                "陈建国", "13805710001"),
    FixedDealer("D0002", "广州安行电动车有限公司", "GD-GZ", "B", Decimal("3000000.00"), 45,
                "林志强", "13902200002"),
    FixedDealer("D0001-01", "宁波捷顺车业有限公司", "ZJ-NB", "B", Decimal("1200000.00"), 30,
                "徐海波", "13805740011", parent_code="D0001"),
    FixedDealer("D0001-02", "温州恒通电动车销售有限公司", "ZJ-WZ", "C", Decimal("800000.00"), 30,
                "郑晓东", "13805770012", parent_code="D0001"),
    FixedDealer("D0002-01", "深圳畅达商贸有限公司", "GD-SZ", "B", Decimal("1000000.00"), 30,
                "黄志明", "13902550021", parent_code="D0002"),
)

FIXED_STORES: tuple[FixedStore, ...] = (
    FixedStore("S00001", "D0001", "ZJ-HZ", "FLAGSHIP", "延安路", 218),
    FixedStore("S00002", "D0001", "ZJ-HZ", "STANDARD", "学府路", 66),
    FixedStore("S00003", "D0001", "ZJ-HZ", "SERVICE_POINT", "环城北路", 9),
    FixedStore("S00004", "D0002", "GD-GZ", "FLAGSHIP", "中山路", 388),
    FixedStore("S00005", "D0002", "GD-GZ", "STANDARD", "北京路", 120),
    FixedStore("S00006", "D0001-01", "ZJ-NB", "STANDARD", "人民路", 58),
    FixedStore("S00007", "D0002-01", "GD-SZ", "STANDARD", "科技路", 16),
)

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.example", "HQ_ADMIN", "周立新", "HQ administrator: everything in the tenant"),
    DemoUser("sales.east@demo.example", "HQ_SALES", "王磊",
             "HQ sales for area EAST (华东): sees D0001 and its tree, not D0002", area_codes=("EAST",)),
    DemoUser("analyst@demo.example", "ANALYST", "赵敏", "Analyst: read-only across the tenant"),
    DemoUser("dealer1@demo.example", "DEALER_ADMIN", "陈建国",
             "Admin of level-1 distributor D0001 (杭州, tier A) and its sub-dealers", dealer_code="D0001"),
    DemoUser("dealer2@demo.example", "DEALER_ADMIN", "林志强",
             "Admin of level-1 distributor D0002 (广州, tier B)", dealer_code="D0002"),
    DemoUser("subdealer1@demo.example", "DEALER_ADMIN", "徐海波",
             "Admin of level-2 sub-dealer D0001-01 (宁波, under D0001)", dealer_code="D0001-01"),
    DemoUser("staff1@demo.example", "DEALER_STAFF", "吴芳", "Staff of distributor D0001",
             dealer_code="D0001"),
    DemoUser("store1@demo.example", "STORE_STAFF", "张丽",
             "Staff of store S00001 (杭州旗舰店), whose dealer is D0001", store_code="S00001"),
)

# (email, role, description): what a demo or a README lists; the password is DEMO_PASSWORD.
DEMO_LOGINS: list[tuple[str, str, str]] = [(u.email, u.role, u.description) for u in DEMO_USERS]

# The first SKU of the first model, and the premium SKU granted to D0002 by an explicit rule.
FIXED_SKU_CODE = "EB-XY500-RED-48V"
D0002_PREMIUM_SKU_CODE = "PR-TYX9-BLK-72V"
