"""The differential corpus, hand-written part: every storefront / mini-program screen, each run as
every demo login on both paths (compiled, and the resolver path as the reference). The two bodies
must be byte-identical after canonical key ordering — data and errors alike (a request the compiled
path cannot answer falls back to the resolver path, so errors must match too).

A screen whose every field the registries (``core.TYPES``/``ROOTS``) know, with valid inputs, must
also have been answered by the compiled path in one statement; screens with fields not compilable
yet (orders, dealers… as the compiler grows) must still agree, and the run's summary says which
path answered what ("compiled read path: differential corpus").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from compiled_corpus import (
    ACCOUNTS_COMPILE_FOR,
    REPORT,
    ROLES,
    Both,
    Outcome,
    World,
    missing_fields,
    omitted_variables,
    problems,
    registries,
    shows_accounts,
)
from graphql import GraphQLSchema

from ymt_graph.graph.ids import encode_gid
from ymt_graph.paging import encode_cursor

Vars = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Screen:
    name: str
    query: str
    variables: Vars = lambda _w: {}
    bad: bool = False  # invalid input: the resolver path may answer (with errors)
    xfail: str | None = None  # a known mismatch (strict)
    operation: str | None = None  # operationName, for a document of several operations
    null_is_bad: bool = False  # its omitted variables sent as null make an invalid request

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def D(code: str) -> Callable[[World], str]:
    return lambda w: w.dealer[code]


def sku_gid(w: World, i: int = 0) -> str:
    return w.skus[i][0]


def sku_code(w: World, i: int = 0) -> str:
    return w.skus[i][1]


SKU_CARD = """id code name unit moq orderMultiple serialTracked status launchDate attributes createdAt updatedAt
  category { id code name parent { code } } model { id code name category { code } }"""
PRICE = """amount { amount currency } list { id code name kind priority status validFrom validTo dealerLevel dealerTier
  createdAt updatedAt } break { minQuantity validFrom validTo } why"""
LEVEL = """id onHand reserved available inbound safetyStock reorderPoint belowReorderPoint updatedAt
  warehouse { id code name ownerKind } sku { code }"""
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

DEALER_CATALOG = f"""query DealerCatalog($d: ID!, $w: ID!, $first: Int = 10, $after: String) {{
  skus(first: $first, after: $after, filter: {{orderableBy: $d}}) {{
    totalCount {PAGE_INFO}
    edges {{ cursor node {{ {SKU_CARD}
      guideRetailPrice {{ amount currency }}
      price(dealerId: $d) {{ {PRICE} }}
      price10: price(dealerId: $d, quantity: 10) {{ amount {{ amount }} list {{ code }} break {{ minQuantity }} why }}
      priceLimit {{ floor {{ amount currency }} ceiling {{ amount currency }} region {{ code }} }}
      cityLimit: priceLimit(regionCode: "ZJ-HZ") {{ floor {{ amount }} ceiling {{ amount }}
                                                 region {{ id code name kind parent {{ code }} }} }}
      available(warehouseId: $w)
      stockLevel(warehouseId: $w) {{ {LEVEL} }} }} }} }} }}"""

SEARCH = f"""query Search($q: String, $first: Int = 20) {{
  skus(first: $first, filter: {{search: $q}}) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ code name status }} }} }} }}"""

STORE_CATALOG = """query StoreCatalog($d: ID!, $s: ID!, $w: ID!) {
  skus(first: 30, filter: {orderableBy: $d, status: ACTIVE}) { totalCount edges { node { code name moq orderMultiple
    guideRetailPrice { amount }
    storePrice(storeId: $s) { amount { amount currency } list { code kind priority }
                              break { minQuantity validFrom } why }
    storePrice10: storePrice(storeId: $s, quantity: 10) { amount { amount } break { minQuantity } why }
    priceLimit(regionCode: "ZJ-HZ") { floor { amount } ceiling { amount } }
    available(warehouseId: $w) } } } }"""

SKU_DETAIL = f"""query SkuDetail($id: ID, $code: String, $d: ID!, $hq: ID!, $own: ID!) {{
  sku(id: $id, code: $code) {{ {SKU_CARD}
    guideRetailPrice {{ amount currency }}
    price(dealerId: $d) {{ {PRICE} }}
    bulk: price(dealerId: $d, quantity: 50) {{ amount {{ amount }} break {{ minQuantity }} why }}
    priceLimit {{ floor {{ amount }} ceiling {{ amount }} region {{ code }} }}
    east: priceLimit(regionCode: "EAST") {{ floor {{ amount }} ceiling {{ amount }} region {{ code }} }}
    hq: available(warehouseId: $hq) own: available(warehouseId: $own)
    hqLevel: stockLevel(warehouseId: $hq) {{ {LEVEL} }} ownLevel: stockLevel(warehouseId: $own) {{ {LEVEL} }} }} }}"""

FRAGMENTS = """query Fragments($d: ID!, $code: String!) {
  skus(first: 5, filter: {orderableBy: $d}) { ...Conn }
  sku(code: $code) { ...Card ... on Sku { price(dealerId: $d) { ...PriceParts } } ... on Node { id } ... { moq } }
}
fragment Conn on SkuConnection { totalCount edges { ... on SkuEdge { cursor node { ...Card category { name } } } }
  pageInfo { ...PI } }
fragment Card on Sku { code name category { ... on Category { code } } ... on Node { id } }
fragment PriceParts on ResolvedPrice { amount { ...M } list { ... on PriceList { code } } why }
fragment M on Money { amount currency }
fragment PI on PageInfo { endCursor hasNextPage }"""

ALIASES = """query Aliases($d: ID!, $hq: ID!, $own: ID!) {
  active: skus(first: 4, filter: {status: ACTIVE, orderableBy: $d}) { totalCount edges { node {
    code same: code name
    one: price(dealerId: $d, quantity: 1) { amount { amount } why }
    ten: price(dealerId: $d, quantity: 10) { amount { amount } why }
    hundred: price(dealerId: $d, quantity: 100) { amount { amount } break { minQuantity } }
    national: priceLimit { floor { amount } }
    east: priceLimit(regionCode: "EAST") { floor { amount } region { code } }
    city: priceLimit(regionCode: "ZJ-HZ") { ceiling { amount } region { code } }
    nowhere: priceLimit(regionCode: "NO-SUCH-REGION") { floor { amount } region { code } }
    hq: available(warehouseId: $hq) own: available(warehouseId: $own) } } }
  gone: skus(first: 4, filter: {status: DISCONTINUED}) { totalCount edges { node { code status } } }
  drafts: skus(first: 4, filter: {status: DRAFT}) { totalCount edges { node { code } } }
}"""

DEFAULTS = """query Defaults($d: ID!, $first: Int = 3, $q: Int = 10, $region: String = "EAST",
                        $status: SkuStatus = ACTIVE, $search: String = "V", $after: String = null) {
  skus(first: $first, after: $after, filter: {status: $status, search: $search, orderableBy: $d}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { code price(dealerId: $d, quantity: $q) { amount { amount } break { minQuantity } why }
                   priceLimit(regionCode: $region) { floor { amount } region { code } } } } } }"""

DIRECTIVES = """query Directives($withPrice: Boolean!, $noStock: Boolean = false, $d: ID!, $w: ID!) {
  skus(first: 5, filter: {orderableBy: $d}) {
    totalCount @skip(if: $noStock)
    pageInfo @include(if: $withPrice) { hasNextPage }
    edges { node { code
      price(dealerId: $d) @include(if: $withPrice) { amount { amount } why }
      available(warehouseId: $w) @skip(if: $noStock)
      stockLevel(warehouseId: $w) @include(if: false) { onHand }
      ... on Sku @include(if: $withPrice) { guideRetailPrice { amount } }
      ...Stock @skip(if: $noStock)
      name @skip(if: true) } } } }
fragment Stock on Sku { stockLevel(warehouseId: $w) { onHand reserved } }"""

TYPENAMES = """query Typenames($d: ID!, $w: ID!) { __typename
  skus(first: 3, filter: {orderableBy: $d}) { __typename pageInfo { __typename hasNextPage }
    edges { __typename node { __typename code category { __typename code } model { __typename category { __typename } }
      guideRetailPrice { __typename amount }
      price(dealerId: $d) { __typename amount { __typename amount } list { __typename code } break { __typename } }
      priceLimit { __typename floor { __typename } ceiling { __typename } region { __typename } }
      stockLevel(warehouseId: $w) { __typename warehouse { __typename code } sku { __typename } } } } }
  sku(code: "NO-SUCH-SKU") { __typename } }"""

EMPTY = f"""query Empty($nobody: ID!, $store: ID!) {{
  nothing: skus(first: 5, filter: {{search: "zzzz-no-such-sku"}}) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ code }} }} }}
  zeroOrderable: skus(first: 0, filter: {{orderableBy: $nobody}}) {{ totalCount {PAGE_INFO}
    edges {{ node {{ code }} }} }}
  unknownDealer: skus(first: 5, filter: {{orderableBy: $nobody}}) {{ totalCount {PAGE_INFO}
    edges {{ node {{ code }} }} }}
  storeAsDealer: skus(first: 5, filter: {{orderableBy: $store}}) {{ totalCount edges {{ node {{ code }} }} }}
  noSku: sku(code: "NO-SUCH-SKU") {{ code }}
}}"""

# -- screens whose roots the lead is making compilable ---------------------------------------

STOCK_LIST = f"""query StockList($f: StockLevelFilter, $first: Int = 20, $after: String) {{
  stockLevels(filter: $f, first: $first, after: $after) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ id onHand reserved available inbound safetyStock reorderPoint belowReorderPoint updatedAt
      sku {{ id code name moq category {{ code }} }} warehouse {{ id code name ownerKind }} }} }} }} }}"""

ORDER_LIST = """query Orders($f: OrderFilter, $first: Int = 25, $after: String) {
  orders(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id number status createdAt total { amount currency } buyer { code } buyerStore { code }
      lines { quantity unitPrice { amount } sku { code } }
      shipments { number status trackingNumber } } } } }"""

ORDER_DETAIL = """query OrderDetail($id: ID, $number: String) {
  order(id: $id, number: $number) { id number status note createdAt updatedAt sellerIsHq
    subtotal { amount currency } rebateAmount { amount currency } total { amount currency }
    buyer { id code name level } buyerStore { id code name } buyerWarehouse { code ownerKind }
    seller { code name } sellerWarehouse { code ownerKind }
    lines { id quantity priceListId unitPrice { amount currency } lineTotal { amount currency }
            sku { id code name guideRetailPrice { amount } } }
    shipments { id number status carrier trackingNumber estimatedArrival arrivalNoticeAt shippedAt deliveredAt note
                fromWarehouse { code } toWarehouse { code } lines { orderLineId quantity serials sku { code } }
                events { kind location note } } } }"""

ORDER_TIMELINE = """query OrderTimeline($number: String!) {
  order(number: $number) { number status timeline { kind status details bySystem viaApiKey }
    receipt { note lines { __typename } warehouse { code } } claims { __typename } submittedBy { email } } }"""

SHIPMENTS = """query Shipments($f: ShipmentFilter) {
  shipments(filter: $f, first: 20) { totalCount edges { node { id number status carrier trackingNumber shippedAt
    order { number buyer { code } } lines { quantity sku { code } } events { kind location } } } } }"""

SHIPMENT = """query Shipment($id: ID, $number: String) {
  shipment(id: $id, number: $number) { number status trackingNumber order { number status }
    fromWarehouse { code } toWarehouse { code } lines { quantity serials sku { code } } events { kind } } }"""

DEALER_FIELDS = """id code name level tier status creditLimit { amount currency } paymentTermsDays contactName
  contactPhone createdAt updatedAt region { code name kind parent { code } } parent { code name }"""

DEALERS = f"""query Dealers($f: DealerFilter, $first: Int = 20, $after: String) {{
  dealers(filter: $f, first: $first, after: $after) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ {DEALER_FIELDS}
      stores(first: 5) {{ totalCount edges {{ node {{ code name }} }} }}
      warehouses {{ edges {{ node {{ id code ownerKind }} }} }} }} }} }} }}"""

DEALER = f"""query Dealer($id: ID, $code: String) {{
  dealer(id: $id, code: $code) {{ {DEALER_FIELDS}
    children(first: 10) {{ totalCount {PAGE_INFO} edges {{ node {{ code level parent {{ code }} }} }} }}
    stores(first: 10) {{ totalCount edges {{ cursor node {{ code name format status }} }} }}
    warehouses(first: 5) {{ edges {{ node {{ id code name ownerKind dealer {{ code }} store {{ code }} }} }} }} }} }}"""

STORE_FIELDS = """id code name address location { lat lng } format status createdAt region { code name }
  dealer { code name level } warehouse { id code ownerKind }"""

STORES = f"""query Stores($f: StoreFilter, $first: Int = 20) {{
  stores(filter: $f, first: $first) {{ totalCount {PAGE_INFO} edges {{ cursor node {{ {STORE_FIELDS} }} }} }} }}"""

STORE = f"""query Store($id: ID, $code: String) {{ store(id: $id, code: $code) {{ {STORE_FIELDS} }} }}"""

MY_NETWORK = """query MyNetwork($d: ID!) {
  me { role user { email } tenant { name } dealer { code name } }
  dealers(first: 20, filter: {search: "杭州"}) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { code name level tier creditLimit { amount currency } region { name }
                   parent { code } stores(first: 5) { totalCount edges { node { code name } } } } } }
  skus(first: 50, filter: {orderableBy: $d}) {
    edges { node { code name moq orderMultiple category { name } model { name } } } } }"""

MIXED = """query Mixed($d: ID!, $w: ID!, $code: String!) {
  skus(first: 3, filter: {orderableBy: $d}) { edges { node { code available(warehouseId: $w) } } }
  sku(code: $code) { code stockLevel(warehouseId: $w) { onHand } }
  stockLevels(first: 3, filter: {warehouseId: $w}) { edges { node { onHand sku { code } } } }
  dealer(code: "D0001") { code }
  orders(first: 3) { edges { node { number } } } }"""


SEVERAL = """query List { skus(first: 3) { edges { node { code } } } }
query Detail($code: String!) { sku(code: $code) { code name } stockLevels(first: 2) { totalCount } }
query Other { dealers(first: 1) { totalCount } }"""

WITH_MUTATION = """mutation Write { tokenRefresh(input: {refreshToken: "nope"}) { token } }
query Read { skus(first: 2) { edges { node { code } } } }"""

MERGED = """query Merged($d: ID!) {
  skus(first: 3, filter: {orderableBy: $d}) { edges { node { code price(dealerId: $d) { amount { amount } } } } }
  skus(first: 3, filter: {orderableBy: $d}) { totalCount edges { cursor node { name category { code }
    price(dealerId: $d) { why amount { currency } } } } }
  ...More
}
fragment More on Query { skus(first: 3, filter: {orderableBy: $d}) { pageInfo { hasNextPage }
  edges { node { category { name } code } } } }"""

NULLABLE_Q = """query($d: ID!, $code: String!, $q: Int) { sku(code: $code) { code
  price(dealerId: $d, quantity: $q) { amount { amount } break { minQuantity } why } } }"""


# -- shipping, receipts, claims, people, price list lines ----------------------------------------

ACTOR = "id email name role status createdAt dealer { code name } store { code name }"

SHIPMENT_FIELDS = """id number status carrier trackingNumber estimatedArrival arrivalNoticeAt shippedAt deliveredAt
  note order { id number status buyer { code } buyerStore { code } seller { code } }
  fromWarehouse { code ownerKind } toWarehouse { code ownerKind }
  lines { orderLineId quantity serials sku { code serialTracked } }
  events { kind location note at recordedAt viaApiKey }"""

SHIPMENT_LIST = f"""query ShipmentList($f: ShipmentFilter, $first: Int = 20, $after: String) {{
  shipments(filter: $f, first: $first, after: $after) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ {SHIPMENT_FIELDS} }} }} }} }}"""

SHIPMENT_DETAIL = f"""query ShipmentDetail($id: ID, $number: String) {{
  shipment(id: $id, number: $number) {{ {SHIPMENT_FIELDS} }} }}"""

RECEIPT = """receipt { receivedAt note warehouse { code ownerKind }
    lines { orderLineId shipped received short damaged serials damagedSerials note sku { code serialTracked } } }"""

CLAIM_FIELDS = """id number kind status quantity shortQuantity damagedQuantity serials missingSerials orderLineId note
  createdAt updatedAt sku { code } order { number status buyer { code } }"""

ORDER_AFTERSALES = f"""query OrderAftersales($id: ID, $number: String) {{
  order(id: $id, number: $number) {{ number status {RECEIPT} claims {{ {CLAIM_FIELDS} }}
    shipments {{ number status lines {{ quantity serials }} }} }} }}"""

ORDER_LIST_AFTERSALES = f"""query OrdersAftersales($f: OrderFilter, $first: Int = 10) {{
  orders(filter: $f, first: $first) {{ totalCount edges {{ node {{ number status {RECEIPT}
    claims {{ number kind status quantity serials missingSerials sku {{ code }} }} }} }} }} }}"""

CLAIM_LIST = f"""query Claims($f: ClaimFilter, $first: Int = 20, $after: String) {{
  claims(filter: $f, first: $first, after: $after) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ {CLAIM_FIELDS} }} }} }} }}"""

# Every actor field: they show accounts (``access.user_scope``), which compiles only for the
# principals whose scope does not name their own account (``ACCOUNTS_COMPILE_FOR``).
ACTORS = f"""query Actors($number: String!) {{
  order(number: $number) {{ number submittedBy {{ {ACTOR} }}
    timeline {{ kind bySystem viaApiKey actor {{ {ACTOR} }} }}
    shipments {{ number shippedBy {{ email }} events {{ kind actor {{ email role }} }} }}
    receipt {{ receivedBy {{ {ACTOR} }} }}
    claims {{ number createdBy {{ email name }} }} }} }}"""

SHIPMENT_ACTORS = """query ShipmentActors($f: ShipmentFilter) {
  shipments(filter: $f, first: 10) { edges { node { number shippedBy { id email dealer { code } }
    events { kind actor { email } } order { submittedBy { email } } } } }
  claims(first: 10) { edges { node { number createdBy { email role } } } } }"""

ME = """query Me { me { role scopes tenant { id code name currency } dealer { id code name level parent { code }
  creditLimit { amount currency } } store { id code name dealer { code } } } }"""

ME_WITH_USER = """query MeUser { me { role user { email } } }"""

LIST_LINES = """id code name kind region { code name } dealer { code name } ownerDealer { code name }"""

PRICE_LIST_LINES = f"""query PriceListLines($code: String!, $d: ID!, $first: Int = 5, $after: String,
                                         $sku: ID, $at: DateTime, $expired: Boolean! = false) {{
  sku(code: $code) {{ code price(dealerId: $d) {{ list {{ {LIST_LINES}
    lines(first: $first, after: $after, skuId: $sku, validAt: $at, includeExpired: $expired) {{ totalCount {PAGE_INFO}
      edges {{ cursor node {{ id minQuantity amount {{ amount currency }} validFrom validTo sku {{ code }}
        priceList {{ code kind }} }} }} }} }} }} }} }}"""

CATALOG_LISTS = f"""query CatalogLists($d: ID!) {{
  skus(first: 6, filter: {{orderableBy: $d}}) {{ edges {{ node {{ code price(dealerId: $d) {{ list {{ {LIST_LINES}
    lines(first: 2) {{ totalCount edges {{ node {{ minQuantity amount {{ amount }} sku {{ code }} }} }} }}
  }} }} }} }} }} }}"""

STORE_LISTS = """query StoreLists($d: ID!, $s: ID!) {
  skus(first: 6, filter: {orderableBy: $d}) { edges { node { code storePrice(storeId: $s) { list { code kind
    ownerDealer { code } dealer { code } region { code }
    lines(first: 3, includeExpired: true) { totalCount edges { node { minQuantity amount { amount } } } } } } } } } }"""


PRICE_LIST_FIELDS = f"""{LIST_LINES} priority status validFrom validTo dealerLevel dealerTier createdAt updatedAt
  lines(first: 3) {{ totalCount {PAGE_INFO} edges {{ cursor node {{ minQuantity amount {{ amount currency }}
    validFrom validTo sku {{ code }} priceList {{ code }} }} }} }}"""

PRICE_LISTS = f"""query PriceLists($f: PriceListFilter, $first: Int = 20, $after: String) {{
  priceLists(filter: $f, first: $first, after: $after) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ {PRICE_LIST_FIELDS} }} }} }} }}"""

PRICE_LIST = f"""query PriceList($id: ID, $code: String) {{
  priceList(id: $id, code: $code) {{ {PRICE_LIST_FIELDS} }} }}"""


def _hours(h: int, offset: int | None = 0) -> str:
    """Now + ``h`` hours as an ISO date-time at UTC + ``offset`` hours (None: without an offset)."""
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=h)
    if offset is None:
        return at.strftime("%Y-%m-%dT%H:%M:%S")
    return at.astimezone(timezone(timedelta(hours=offset))).isoformat()


def _catalog(d: str, w: str) -> Vars:
    return lambda world: {"d": world.dealer[d], "w": world.warehouse[w]}


def _detail(by: str) -> Vars:
    def make(w: World) -> dict[str, Any]:
        key = {"id": sku_gid(w)} if by == "id" else {"code": sku_code(w)}
        return {**key, "d": w.dealer["D0001"], "hq": w.warehouse["W-HQ-EAST"], "own": w.warehouse["W-D0001"]}

    return make


BAD_CURSORS = {
    "not-base64": "!!!not a cursor!!!",
    "not-json": "bm90IGpzb24",
    "wrong-arity": encode_cursor(["AC-CK1-BLU"]),
    "wrong-types": encode_cursor(["AC-CK1-BLU", "abc"]),
    "number-code": encode_cursor([12, 3]),
    "empty": "",
}

SCREENS: list[Screen] = [
    # The catalog page of a dealer: a dealer buying from HQ, a sub-dealer buying from its distributor
    # (at the seller's warehouse), another area's dealer.
    Screen("dealer-catalog-D0001@hq", DEALER_CATALOG, _catalog("D0001", "W-HQ-EAST")),
    Screen("dealer-catalog-D0001-01@D0001", DEALER_CATALOG, _catalog("D0001-01", "W-D0001")),
    Screen("dealer-catalog-D0002@hq-south", DEALER_CATALOG, _catalog("D0002", "W-HQ-SOUTH")),
    Screen("dealer-catalog-own-warehouse", DEALER_CATALOG, _catalog("D0001", "W-D0001")),
    Screen("dealer-catalog-store-warehouse", DEALER_CATALOG, _catalog("D0001", "W-S00001")),
    Screen("search-literal-terms", """{
      a: skus(first: 20, filter: {search: "电池"}) { totalCount edges { node { code } } }
      b: skus(first: 20, filter: {search: "ac-ck1"}) { totalCount edges { node { code } } }
      c: skus(first: 20, filter: {search: "  48V  "}) { totalCount edges { node { code } } }
      d: skus(first: 20, filter: {search: "   "}) { totalCount }
      e: skus(first: 20, filter: {search: ""}) { totalCount } }"""),
    *(Screen(f"search-{label}", SEARCH, (lambda t: lambda _w: {"q": t})(term)) for label, term in (
        ("chinese", "头盔"), ("code-prefix", "BT-"), ("percent", "%"), ("underscore", "_"), ("slash", "a/b"),
        ("backslash", "\\"), ("quote", "'\""), ("blank", " "), ("null", None), ("nothing", "zzzz"))),
    Screen("category-filter", """query($c: ID!, $other: ID!) {
      skus(first: 50, filter: {categoryId: $c, status: ACTIVE}) { totalCount edges { node { code category { code } } } }
      other: skus(first: 50, filter: {categoryId: $other}) { totalCount }
      wrongType: skus(first: 5, filter: {categoryId: "RGVhbGVyOjE"}) { totalCount } }""",
           lambda w: {"c": w.category["BATTERY"], "other": w.category["ACCESSORY"]}),
    Screen("status-filter", """query($s: SkuStatus) { skus(first: 30, filter: {status: $s}) {
      totalCount edges { node { code status launchDate } } } }""", lambda _w: {"s": "DISCONTINUED"}),
    Screen("store-catalog", STORE_CATALOG,
           lambda w: {"d": w.dealer["D0001"], "s": w.store["S00001"], "w": w.warehouse["W-D0001"]}),
    Screen("store-catalog-other-store", STORE_CATALOG,
           lambda w: {"d": w.dealer["D0002"], "s": w.store["S00004"], "w": w.warehouse["W-D0002"]}),
    Screen("sku-by-id", SKU_DETAIL, _detail("id")),
    Screen("sku-by-code", SKU_DETAIL, _detail("code")),
    Screen("sku-tracked", SKU_DETAIL, lambda w: {**_detail("id")(w), "id": None,
                                                 "code": w.tracked}),
    Screen("sku-unknown-id", SKU_DETAIL, lambda w: {**_detail("id")(w), "id": encode_gid("Sku", 999999)}),
    Screen("sku-foreign-id", SKU_DETAIL, lambda w: {**_detail("id")(w), "id": w.dealer["D0001"]}),
    Screen("sku-unknown-code", SKU_DETAIL, lambda w: {**_detail("id")(w), "id": None, "code": "NO-SUCH"}),
    Screen("fragments", FRAGMENTS, lambda w: {"d": w.dealer["D0001"], "code": sku_code(w)}),
    Screen("aliases", ALIASES,
           lambda w: {"d": w.dealer["D0001"], "hq": w.warehouse["W-HQ-EAST"], "own": w.warehouse["W-D0001"]}),
    Screen("variable-defaults", DEFAULTS, lambda w: {"d": w.dealer["D0001"]}),
    Screen("variable-defaults-overridden", DEFAULTS,
           lambda w: {"d": w.dealer["D0001"], "first": 2, "q": 1, "region": None, "status": None, "search": None}),
    Screen("directives-on", DIRECTIVES,
           lambda w: {"withPrice": True, "noStock": False, "d": w.dealer["D0001"], "w": w.warehouse["W-HQ-EAST"]}),
    Screen("directives-off", DIRECTIVES,
           lambda w: {"withPrice": False, "noStock": True, "d": w.dealer["D0001"], "w": w.warehouse["W-HQ-EAST"]}),
    Screen("directives-default", DIRECTIVES,
           lambda w: {"withPrice": False, "d": w.dealer["D0001"], "w": w.warehouse["W-HQ-EAST"]}),
    Screen("typenames", TYPENAMES, lambda w: {"d": w.dealer["D0001"], "w": w.warehouse["W-HQ-EAST"]}),
    Screen("empty-results", EMPTY, lambda w: {"nobody": encode_gid("Dealer", 999999),
                                              "store": w.store["S00001"]}),
    # first: 0 once gave the compiled path a pageInfo.startCursor (the extra row's) where the resolver
    # path answers null (found by this corpus, fixed in core._page_info).
    Screen("first-zero", f"{{ skus(first: 0) {{ totalCount {PAGE_INFO} edges {{ cursor node {{ code }} }} }} }}"),
    Screen("first-null", "{ skus(first: null) { totalCount edges { node { code } } } }"),
    Screen("first-250", "{ skus(first: 250) { totalCount pageInfo { hasNextPage } edges { node { code } } } }"),
    # Bad inputs: the resolver path answers them (errors included); both must agree.
    Screen("bad-first-251", "{ skus(first: 251) { totalCount edges { node { code } } } }", bad=True),
    Screen("bad-first-negative", "{ skus(first: -1) { totalCount } }", bad=True),
    Screen("bad-first-variable", "query($n: Int) { skus(first: $n) { totalCount } }", lambda _w: {"n": 1000},
           bad=True),
    Screen("bad-first-huge", "{ skus(first: 2147483647) { totalCount } }", bad=True),
    *(Screen(f"bad-cursor-{label}", "query($a: String) { skus(first: 3, after: $a) { edges { node { code } } } }",
             (lambda c: lambda _w: {"a": c})(cursor), bad=True) for label, cursor in BAD_CURSORS.items()),
    Screen("bad-cursor-literal", '{ skus(first: 3, after: "xyz") { edges { node { code } } } }', bad=True),
    Screen("bad-quantity-zero", """query($d: ID!, $code: String!) { sku(code: $code) { code
      price(dealerId: $d, quantity: 0) { why } } }""", lambda w: {"d": w.dealer["D0001"], "code": sku_code(w)},
           bad=True),
    Screen("bad-quantity-variable", """query($d: ID!, $q: Int!) { skus(first: 3) { edges { node { code
      price(dealerId: $d, quantity: $q) { why } storePrice(storeId: "U3RvcmU6MQ", quantity: $q) { why } } } } }""",
           lambda w: {"d": w.dealer["D0001"], "q": -3}, bad=True),
    Screen("bad-unknown-ids", """query($code: String!) { sku(code: $code) { code
      price(dealerId: "RGVhbGVyOjk5OTk5OQ") { why } storePrice(storeId: "garbage") { why }
      available(warehouseId: "V2FyZWhvdXNlOjk5OTk5OQ") stockLevel(warehouseId: "") { onHand } } }""",
           lambda w: {"code": sku_code(w)}),
    Screen("bad-sku-both-keys", """query($id: ID, $code: String) { sku(id: $id, code: $code) { code } }""",
           lambda w: {"id": sku_gid(w), "code": sku_code(w)}, bad=True),
    Screen("bad-sku-no-key", "{ sku { code } }", bad=True),
    Screen("bad-variable-type", "query($n: Int) { skus(first: $n) { totalCount } }", lambda _w: {"n": "ten"},
           bad=True),
    # Once a mismatch: the compiled path answered data, dropping the filter, where the reference
    # answers BAD_USER_INPUT (core.coerce_variables now refuses an absent non-null variable).
    Screen("bad-missing-variable", "query($d: ID!) { skus(first: 2, filter: {orderableBy: $d}) { totalCount } }",
           bad=True),
    Screen("bad-unknown-field", "{ skus(first: 2) { edges { node { code nope } } } }", bad=True),
    # Screens of the roots being made compilable: stock list, orders, shipments, dealers, stores.
    Screen("stock-list-hq", STOCK_LIST, lambda w: {"f": {"warehouseId": w.warehouse["W-HQ-EAST"]}}),
    Screen("stock-list-dealer-warehouse", STOCK_LIST, lambda w: {"f": {"warehouseId": w.warehouse["W-D0001"]}}),
    Screen("stock-list-dealer", STOCK_LIST, lambda w: {"f": {"dealerId": w.dealer["D0001"]}, "first": 10}),
    Screen("stock-list-sku", STOCK_LIST, lambda w: {"f": {"skuId": sku_gid(w)}}),
    Screen("stock-list-reorder", STOCK_LIST, lambda _w: {"f": {"belowReorderPoint": True}}),
    Screen("stock-list-all", STOCK_LIST, lambda _w: {}),
    Screen("order-list", ORDER_LIST),
    Screen("order-list-page-2", ORDER_LIST, lambda _w: {"first": 2, "after": None}),
    Screen("order-list-status", ORDER_LIST, lambda _w: {"f": {"status": "PARTIALLY_SHIPPED"}}),
    Screen("order-list-store-buyer", ORDER_LIST, lambda w: {"f": {"buyerId": w.store["S00001"]}}),
    Screen("order-list-dealer-buyer", ORDER_LIST, lambda w: {"f": {"buyerId": w.dealer["D0001-01"]}}),
    Screen("order-list-seller", ORDER_LIST, lambda w: {"f": {"sellerId": w.dealer["D0001"]}}),
    Screen("order-list-search", ORDER_LIST, lambda w: {"f": {"search": w.orders[0][1][-4:]}}),
    *(Screen(f"order-list-window-{label}", ORDER_LIST, (lambda f: lambda _w: {"f": f})(window)) for label, window in (
        ("utc", {"from": _hours(-24), "to": _hours(24)}),
        ("offset", {"from": _hours(-24, 8), "to": _hours(24, 8)}),
        ("naive", {"from": _hours(-24, None), "to": _hours(24, None)}),
        ("past", {"to": _hours(-24)}),
        ("future", {"from": _hours(1)}),
        ("status-and-buyer", {"status": "SHIPPED", "buyerId": "RGVhbGVyOjIx", "from": "2000-01-01T00:00:00Z"}))),
    Screen("order-detail-number-lowercase", ORDER_DETAIL, lambda w: {"number": f"  {w.orders[2][1].lower()} "}),
    Screen("order-detail-by-id", ORDER_DETAIL, lambda w: {"id": w.orders[0][0]}),
    Screen("order-detail-by-number", ORDER_DETAIL, lambda w: {"number": w.orders[1][1]}),
    Screen("order-detail-sub-dealer", ORDER_DETAIL, lambda w: {"number": w.orders[-2][1]}),
    Screen("order-detail-store", ORDER_DETAIL, lambda w: {"id": w.orders[-1][0]}),
    Screen("order-detail-unknown", ORDER_DETAIL, lambda _w: {"number": "NO-SUCH-ORDER"}),
    Screen("order-timeline", ORDER_TIMELINE, lambda w: {"number": w.orders[1][1]}),
    Screen("shipment-list", SHIPMENTS),
    Screen("shipment-list-tracking", SHIPMENTS, lambda w: {"f": {"trackingNumber": w.shipments[0][2]}}),
    Screen("shipment-detail", SHIPMENT, lambda w: {"number": w.shipments[0][1]}),
    Screen("dealer-list", DEALERS),
    Screen("dealer-list-search", DEALERS, lambda _w: {"f": {"search": "杭州"}}),
    Screen("dealer-list-region-level", DEALERS, lambda _w: {"f": {"regionCode": "EAST", "level": 2}, "first": 5}),
    Screen("dealer-by-code", DEALER, lambda _w: {"code": "D0001"}),
    Screen("dealer-by-id-sub", DEALER, lambda w: {"id": w.dealer["D0001-01"]}),
    Screen("dealer-other-area", DEALER, lambda _w: {"code": "D0002"}),
    Screen("store-list", STORES),
    Screen("store-list-dealer", STORES, lambda w: {"f": {"dealerId": w.dealer["D0001"]}}),
    Screen("store-list-filters", STORES, lambda _w: {"f": {"regionCode": "ZJ", "format": "STANDARD",
                                                           "status": "ACTIVE", "search": "S0"}, "first": 10}),
    Screen("dealer-list-tier-status", DEALERS, lambda w: {"f": {"tier": "A", "status": "ACTIVE",
                                                                "parentId": w.dealer["D0001"]}}),
    Screen("store-by-code", STORE, lambda _w: {"code": "S00001"}),
    Screen("store-by-id-other", STORE, lambda w: {"id": w.store["S00004"]}),
    Screen("readme-my-network", MY_NETWORK, lambda w: {"d": w.dealer["D0001"]}),
    # Shipping, receipts, claims, people, price list lines.
    Screen("shipments-all", SHIPMENT_LIST),
    Screen("shipments-page-2", SHIPMENT_LIST, lambda _w: {"first": 2}),
    Screen("shipments-by-order", SHIPMENT_LIST, lambda w: {"f": {"orderId": w.orders[0][0]}}),
    Screen("shipments-by-dealer-buyer", SHIPMENT_LIST, lambda w: {"f": {"buyerId": w.dealer["D0001"]}}),
    Screen("shipments-by-sub-dealer-buyer", SHIPMENT_LIST, lambda w: {"f": {"buyerId": w.dealer["D0001-01"]}}),
    Screen("shipments-by-store-buyer", SHIPMENT_LIST, lambda w: {"f": {"buyerId": w.store["S00001"]}}),
    Screen("shipments-by-foreign-buyer", SHIPMENT_LIST, lambda w: {"f": {"buyerId": w.orders[0][0]}}),
    Screen("shipments-by-status", SHIPMENT_LIST, lambda _w: {"f": {"status": "DELIVERED"}}),
    Screen("shipments-by-tracking", SHIPMENT_LIST, lambda w: {"f": {"trackingNumber": w.shipments[-1][2]}}),
    Screen("shipments-by-blank-tracking", SHIPMENT_LIST, lambda _w: {"f": {"trackingNumber": ""}}),
    Screen("shipments-combined", SHIPMENT_LIST, lambda w: {"f": {"orderId": w.orders[0][0], "status": "IN_TRANSIT",
                                                                   "buyerId": w.dealer["D0001"]}}),
    Screen("shipments-unknown-order", SHIPMENT_LIST, lambda _w: {"f": {"orderId": encode_gid("Order", 999999)}}),
    Screen("shipment-by-id", SHIPMENT_DETAIL, lambda w: {"id": w.shipments[0][0]}),
    Screen("shipment-by-number-lowercase", SHIPMENT_DETAIL, lambda w: {"number": f" {w.shipments[3][1].lower()} "}),
    Screen("shipment-of-sub-dealer", SHIPMENT_DETAIL, lambda w: {"number": w.shipments[-1][1]}),
    Screen("shipment-foreign-id", SHIPMENT_DETAIL, lambda w: {"id": w.orders[0][0]}),
    Screen("shipment-unknown", SHIPMENT_DETAIL, lambda _w: {"number": "SH-NO-SUCH"}),
    Screen("shipment-id-and-number", SHIPMENT_DETAIL, lambda w: {"id": w.shipments[0][0], "number": w.shipments[0][1]},
           bad=True),
    Screen("shipment-neither", SHIPMENT_DETAIL, bad=True),
    Screen("order-receipt-claims-tracked", ORDER_AFTERSALES, lambda w: {"number": w.orders[3][1]}),
    Screen("order-receipt-claims-sub-dealer", ORDER_AFTERSALES, lambda w: {"id": w.orders[-2][0]}),
    Screen("order-receipt-no-claims", ORDER_AFTERSALES, lambda w: {"number": w.orders[1][1]}),
    Screen("order-not-received", ORDER_AFTERSALES, lambda w: {"number": w.orders[0][1]}),
    Screen("orders-receipts-claims", ORDER_LIST_AFTERSALES),
    Screen("orders-received", ORDER_LIST_AFTERSALES, lambda _w: {"f": {"status": "RECEIVED"}, "first": 3}),
    Screen("claims-all", CLAIM_LIST),
    Screen("claims-page-2", CLAIM_LIST, lambda _w: {"first": 1}),
    Screen("claims-open", CLAIM_LIST, lambda _w: {"f": {"status": "OPEN", "kind": "RECEIPT_DISCREPANCY"}}),
    Screen("claims-resolved", CLAIM_LIST, lambda _w: {"f": {"status": "RESOLVED"}}),
    Screen("claims-warranty", CLAIM_LIST, lambda _w: {"f": {"kind": "WARRANTY"}}),
    Screen("claims-by-order", CLAIM_LIST, lambda w: {"f": {"orderId": w.orders[3][0]}}),
    Screen("claims-by-sub-dealer-order", CLAIM_LIST, lambda w: {"f": {"orderId": w.orders[-2][0]}}),
    Screen("claims-by-foreign-id", CLAIM_LIST, lambda w: {"f": {"orderId": w.shipments[0][0]}}),
    Screen("actors-received", ACTORS, lambda w: {"number": w.orders[3][1]}),
    Screen("actors-sub-dealer", ACTORS, lambda w: {"number": w.orders[-2][1]}),
    Screen("actors-store", ACTORS, lambda w: {"number": w.orders[-1][1]}),
    Screen("actors-lists", SHIPMENT_ACTORS),
    Screen("actors-lists-buyer", SHIPMENT_ACTORS, lambda w: {"f": {"buyerId": w.dealer["D0001-01"]}}),
    Screen("me", ME),
    Screen("me-user", ME_WITH_USER),
    Screen("price-list-lines", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"]}),
    Screen("price-list-lines-page", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                                 "first": 1}),
    Screen("price-list-lines-of-sku", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                                   "sku": sku_gid(w)}),
    Screen("price-list-lines-expired", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                                    "expired": True}),
    Screen("price-list-lines-at", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                               "at": _hours(-1)}),
    Screen("price-list-lines-at-naive", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001-01"],
                                                                     "at": _hours(1, None)}),
    Screen("price-list-lines-sub-dealer", PRICE_LIST_LINES, lambda w: {"code": sku_code(w, 1),
                                                                       "d": w.dealer["D0001-01"]}),
    Screen("price-list-lines-bad-first", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                                      "first": 251}, bad=True),
    Screen("price-list-lines-bad-cursor", PRICE_LIST_LINES, lambda w: {"code": sku_code(w), "d": w.dealer["D0001"],
                                                                       "after": "nope"}, bad=True),
    Screen("catalog-price-lists", CATALOG_LISTS, lambda w: {"d": w.dealer["D0001"]}),
    Screen("catalog-price-lists-sub-dealer", CATALOG_LISTS, lambda w: {"d": w.dealer["D0001-01"]}),
    Screen("store-price-lists", STORE_LISTS, lambda w: {"d": w.dealer["D0001"], "s": w.store["S00001"]}),
    Screen("price-lists", PRICE_LISTS),
    Screen("price-lists-page-2", PRICE_LISTS, lambda _w: {"first": 3}),
    Screen("price-lists-contracts", PRICE_LISTS, lambda _w: {"f": {"kind": "CONTRACT"}}),
    Screen("price-lists-downstream-active", PRICE_LISTS, lambda _w: {"f": {"kind": "DOWNSTREAM", "status": "ACTIVE"}}),
    Screen("price-lists-of-dealer", PRICE_LISTS, lambda w: {"f": {"dealerId": w.dealer["D0001"]}}),
    Screen("price-lists-offered-to", PRICE_LISTS, lambda w: {"f": {"offeredTo": w.dealer["D0001"]}}),
    Screen("price-lists-offered-to-sub-dealer", PRICE_LISTS, lambda w: {"f": {"offeredTo": w.dealer["D0001-01"]}}),
    Screen("price-lists-offered-to-other", PRICE_LISTS, lambda w: {"f": {"offeredTo": w.dealer["D0002"],
                                                                          "search": "base"}}),
    Screen("price-lists-search-blank", PRICE_LISTS, lambda _w: {"f": {"search": "  "}}),
    Screen("price-list-by-code", PRICE_LIST, lambda w: {"code": w.codes["PriceList"][0]}),
    Screen("price-list-by-id", PRICE_LIST, lambda w: {"id": w.ids["PriceList"][-1]}),
    Screen("price-list-unknown", PRICE_LIST, lambda _w: {"code": "NO-SUCH-LIST"}),
    # Documents, selections and variables as clients write them.
    Screen("several-operations", SEVERAL, lambda w: {"code": sku_code(w)}, operation="Detail"),
    Screen("several-operations-other", SEVERAL, lambda w: {"code": sku_code(w)}, operation="List"),
    Screen("with-a-mutation", WITH_MUTATION, operation="Read"),
    Screen("merged-selections", MERGED, lambda w: {"d": w.dealer["D0001"]}),
    Screen("introspection-beside", """{ __schema { queryType { name } } __type(name: "Sku") { name kind }
      skus(first: 2) { edges { node { code } } } }"""),
    Screen("aliased-typename", """{ t: __typename skus(first: 2) { t: __typename edges { n: node { t: __typename
      c: code } } } }"""),
    # $q omitted: quantity's default (1); $q: null: "must not be null" (a field error).
    Screen("nullable-variable-for-defaulted-argument", NULLABLE_Q, lambda w: {"d": w.dealer["D0001"],
                                                                              "code": sku_code(w)},
           null_is_bad=True),
    Screen("nullable-variable-for-defaulted-argument-10", NULLABLE_Q, lambda w: {"d": w.dealer["D0001"],
                                                                                 "code": sku_code(w), "q": 10}),
    Screen("nullable-variable-for-defaulted-argument-null", NULLABLE_Q,
           lambda w: {"d": w.dealer["D0001"], "code": sku_code(w), "q": None}, bad=True),
    Screen("first-variable-null", "query($n: Int) { skus(first: $n) { totalCount edges { node { code } } } }",
           lambda _w: {"n": None}),
    Screen("search-empty-string", SEARCH, lambda _w: {"q": ""}),
    Screen("foreign-cursor", """query($a: String) { dealers(first: 3, after: $a) { totalCount edges { node { code } } }
      stores(first: 3, after: $a) { totalCount edges { node { code } } } }""",
           lambda _w: {"a": encode_cursor(["AC-CK1-BLU", 97])}),
    Screen("mixed-roots", MIXED, lambda w: {"d": w.dealer["D0001"], "w": w.warehouse["W-HQ-EAST"],
                                           "code": sku_code(w)}),
]


def _expected_compiled(schema: GraphQLSchema, screen: Screen, role: str | None = None) -> bool:
    if screen.bad or missing_fields(schema, screen.query, screen.operation):
        return False
    return role is None or role in ACCOUNTS_COMPILE_FOR or not shows_accounts(schema, screen.query, screen.operation)


async def _check(both: Both, label: str, query: str, variables: dict[str, Any], token: str, role: str,
                 expect_compiled: bool, operation: str | None = None) -> Outcome:
    outcome = await both.trace(query, variables, token, operation)
    REPORT.add("test_screens", label, role, outcome)
    found = problems(outcome, expect_compiled)
    assert not found, f"{label} as {role}: " + "\n".join(found)
    return outcome


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", [s.param() for s in SCREENS])
async def test_screen(screen: Screen, role: str, both: Both, tokens: dict[str, str], world: World,
                      graphql_schema: GraphQLSchema) -> None:
    variables = screen.variables(world)
    expect = _expected_compiled(graphql_schema, screen, role)
    await _check(both, screen.name, screen.query, variables, tokens[role], role, expect, screen.operation)
    omitted = omitted_variables(screen.query, variables)
    if omitted and screen.operation is None:
        # Clients omit optional variables (the first page's $after…); the same screen with them
        # sent as null must agree too (omitting them once sent a screen down the resolver path).
        await _check(both, f"{screen.name} +null", screen.query, {**variables, **dict.fromkeys(omitted)},
                     tokens[role], role, expect and not screen.null_is_bad)


PAGES = f"""query Pages($d: ID!, $w: ID!, $after: String) {{
  skus(first: 4, after: $after, filter: {{orderableBy: $d}}) {{ totalCount {PAGE_INFO}
    edges {{ cursor node {{ code price(dealerId: $d) {{ amount {{ amount }} why }}
                          available(warehouseId: $w) }} }} }} }}"""


@pytest.mark.parametrize("role", ROLES)
async def test_catalog_pages(role: str, both: Both, tokens: dict[str, str], world: World,
                             graphql_schema: GraphQLSchema) -> None:
    """Page through a dealer's catalog by ``after`` cursors (the reference's), to the end."""
    after, pages = None, 0
    expect = not missing_fields(graphql_schema, PAGES)
    while True:
        variables = {"d": world.dealer["D0001"], "w": world.warehouse["W-HQ-EAST"], "after": after}
        outcome = await _check(both, "catalog-pages", PAGES, variables, tokens[role], role, expect)
        pages += 1
        conn = outcome.slow["data"]["skus"]
        if not conn["pageInfo"]["hasNextPage"] or pages >= 8:
            break
        after = conn["pageInfo"]["endCursor"]
    visible = outcome.slow["data"]["skus"]["totalCount"]
    assert visible == 0 or pages >= 3, f"{role}: only {pages} pages of {visible} SKUs"


@pytest.mark.parametrize("role", ROLES)
async def test_connection_pages(role: str, both: Both, tokens: dict[str, str], world: World,
                                graphql_schema: GraphQLSchema) -> None:
    """Every root connection the compiler knows (``ROOTS``), paged by its own cursors."""
    _types, roots = registries()
    query_type = graphql_schema.query_type
    assert query_type is not None
    for name in sorted(roots):
        fdef = query_type.fields[name]
        if not str(fdef.type).rstrip("!").endswith("Connection") or "after" not in fdef.args:
            continue
        query = (f"query($after: String) {{ {name}(first: 2, after: $after) {{ totalCount {PAGE_INFO} "
                 "edges { cursor node { __typename } } } }")
        after = None
        for _page in range(3):
            outcome = await _check(both, f"pages-of-{name}", query, {"after": after}, tokens[role],
                                   role, not missing_fields(graphql_schema, query))
            conn = outcome.slow["data"][name]
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]


# -- found by this corpus: reproducers ----------------------------------------------------------
# Fixed ones stay as regressions; open ones are strict xfails (compiled_corpus.KNOWN_MISMATCHES,
# KNOWN_BUGS): when one starts passing, remove its mark and its entry there.


async def _compiled_cleanly(both: Both, query: str, variables: dict[str, Any], token: str) -> Outcome:
    outcome = await both.trace(query, variables, token)
    assert outcome.mismatch() is None, outcome.mismatch()
    assert not outcome.errors, outcome.errors
    assert outcome.compiled, outcome.why
    return outcome


async def test_omitted_optional_variable_compiles(both: Both, tokens: dict[str, str], world: World) -> None:
    # Once sent down the resolver path ("argument after"): the first page of any paged screen
    # declares `$after` and does not send it, as clients do.
    query = "query($after: String) { skus(first: 2, after: $after) { edges { node { code } } } }"
    await _compiled_cleanly(both, query, {}, tokens[ROLES[0]])
    query = "query($id: ID, $code: String) { sku(id: $id, code: $code) { code } }"
    await _compiled_cleanly(both, query, {"code": sku_code(world)}, tokens[ROLES[0]])


# Once crashed the compiler for sub-dealer and store principals (their supplier chain's scope:
# "A value is required for bind parameter 'v0'" / KeyError 'id_1_1').
@pytest.mark.parametrize("role", ["subdealer1@demo.example", "store1@demo.example"])
async def test_orderable_by_compiles_for_chain_principals(role: str, both: Both, tokens: dict[str, str],
                                                          world: World) -> None:
    await _compiled_cleanly(both, '{ skus(first: 1, filter: {orderableBy: "RGVhbGVyOjE"}) { totalCount } }', {},
                            tokens[role])
    query = "query($d: ID!) { skus(first: 1, filter: {orderableBy: $d}) { totalCount } }"
    await _compiled_cleanly(both, query, {"d": world.dealer["D0001"]}, tokens[role])


@pytest.mark.parametrize("role", ["subdealer1@demo.example", "store1@demo.example"])
async def test_available_compiles_for_chain_principals(role: str, both: Both, tokens: dict[str, str],
                                                       world: World) -> None:
    query = "query($w: ID!) { skus(first: 1) { edges { node { available(warehouseId: $w) } } } }"
    await _compiled_cleanly(both, query, {"w": world.warehouse["W-D0001"]}, tokens[role])


async def test_wrong_typed_cursor_does_not_poison_the_plan(both: Both, tokens: dict[str, str]) -> None:
    # Once: a cursor whose id is a string reached asyncpg ("invalid input for query argument $8:
    # 'abc'"), the runner logged a compiler bug and cached a refusal under the (document,
    # principal, shape) key, which good cursors share: every later page of that document, for
    # every user acting as that principal, took the resolver path.
    query = "query Poison($a: String) { skus(first: 2, after: $a) { edges { node { code } } } }"
    token = tokens["analyst@demo.example"]
    bad = await both.trace(query, {"a": encode_cursor(["AC-CK1-BLU", "abc"])}, token)
    assert bad.mismatch() is None, bad.mismatch()
    assert not bad.errors, bad.errors
    await _compiled_cleanly(both, query, {"a": encode_cursor(["AC-CK1-BLU", 1])}, token)


async def test_literal_order_cursor_compiles(both: Both, tokens: dict[str, str]) -> None:
    # Once: CompileError 'No literal value renderer is available for literal value "3" with
    # datatype NULL' (the cursor as a literal; as a variable it compiled). "WzNd" = [3].
    await _compiled_cleanly(both, '{ orders(first: 2, after: "WzNd") { totalCount } }', {}, tokens[ROLES[0]])


@pytest.mark.parametrize("nested", ["stores", "children", "warehouses"])
async def test_nested_total_count_after_the_last_row(nested: str, both: Both, tokens: dict[str, str]) -> None:
    # Once a mismatch: the resolver path answered totalCount 0 for a nested page past the end (it
    # read the count off the page's rows); paging.partitioned_page_query now carries it. Both
    # answer the list's size, as root connections past their end do.
    past = encode_cursor(["ZZZZ", 999999])
    query = f'{{ dealer(code: "D0001") {{ {nested}(first: 2, after: "{past}") {{ totalCount edges {{ cursor }} }} }} }}'
    outcome = await both.trace(query, {}, tokens[ROLES[0]])
    assert outcome.mismatch() is None, outcome.mismatch()
