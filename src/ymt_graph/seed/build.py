"""Builds the seed rows in memory, deterministically, as records ready for COPY.

Nothing here touches the database: the caller allocates ids from each table's
sequence and hands them in, table by table, parents first. One
``random.Random(42)`` is consumed in a fixed order, so the same scale always
yields the same codes, names, tiers and places.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ymt_graph.seed import geo
from ymt_graph.seed.demo import (
    D0002_PREMIUM_SKU_CODE,
    DEMO_USERS,
    FIXED_DEALERS,
    FIXED_SKU_CODE,
    FIXED_STORES,
)
from ymt_graph.seed.spec import Scale

Record = tuple[Any, ...]


@dataclass(slots=True)
class TableRows:
    table: str
    columns: tuple[str, ...]
    records: list[Record]


# Table order for loading; deletion runs the other way.
TABLES: tuple[str, ...] = (
    "regions", "dealers", "stores", "warehouses", "users",
    "categories", "product_models", "skus", "assortment_rules",
)

STORE_FORMATS: tuple[tuple[str, str, float], ...] = (
    # (format, word in the store's name, share)
    ("FLAGSHIP", "旗舰店", 0.05),
    ("STANDARD", "专卖店", 0.65),
    ("KIOSK", "便民点", 0.15),
    ("SERVICE_POINT", "服务站", 0.15),
)
_FORMAT_WORD = {f: w for f, w, _ in STORE_FORMATS}

HQ_WAREHOUSES: tuple[tuple[str, str, str], ...] = (
    ("W-HQ-EAST", "华东总仓", "ZJ-HZ"),
    ("W-HQ-SOUTH", "华南总仓", "GD-FS"),
)

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("EBIKE", "电动自行车"),
    ("SCOOTER", "电动摩托车/踏板车"),
    ("BATTERY", "电池"),
    ("ACCESSORY", "配件"),
    ("PREMIUM", "高端系列"),
)
# Everyone may order these; PREMIUM only tier A (plus explicit grants).
OPEN_CATEGORIES: tuple[str, ...] = ("EBIKE", "SCOOTER", "BATTERY", "ACCESSORY")
# Share of product models per category (largest remainder keeps the total exact).
_MODEL_SHARE: dict[str, float] = {
    "EBIKE": 0.40, "SCOOTER": 0.25, "BATTERY": 0.10, "ACCESSORY": 0.17, "PREMIUM": 0.08,
}
# Vehicles carry a frame/VIN number per unit; premium models are vehicles too.
_SERIAL_TRACKED = frozenset({"EBIKE", "SCOOTER", "PREMIUM"})
_SKU_PREFIX = {"EBIKE": "EB", "SCOOTER": "SC", "BATTERY": "BT", "ACCESSORY": "AC", "PREMIUM": "PR"}

_COLOURS: tuple[tuple[str, str], ...] = (
    ("RED", "中国红"), ("BLK", "曜石黑"), ("WHT", "珍珠白"),
    ("BLU", "天空蓝"), ("GRY", "星空灰"), ("GRN", "薄荷绿"),
)
_PREMIUM_COLOURS: tuple[tuple[str, str], ...] = (
    ("BLK", "曜石黑"), ("WHT", "珍珠白"), ("GRY", "钛金灰"), ("GLD", "香槟金"), ("BLU", "深海蓝"),
)


@dataclass(slots=True)
class _CityRef:
    id: int
    city: geo.City
    province: geo.Province
    area: geo.Area
    short: str  # as in company and store names: 杭州, 上海浦东


@dataclass(slots=True)
class _Dealer:
    id: int
    code: str
    name: str
    level: int
    parent: _Dealer | None
    path: str
    city: _CityRef
    tier: str
    status: str
    credit_limit: Decimal
    payment_terms_days: int
    contact_name: str
    contact_phone: str


@dataclass(slots=True)
class _Store:
    id: int
    code: str
    name: str
    dealer: _Dealer
    city: _CityRef
    format: str
    address: str
    lat: float
    lng: float


@dataclass(slots=True)
class _Variant:
    code: str  # the part after the model in the SKU code, e.g. "RED-48V"
    name: str  # the part after the model's short name, e.g. "48V 中国红"
    attributes: dict[str, Any]


@dataclass(slots=True)
class _Model:
    code: str  # "XY500": model code is M-<code>, SKU codes <prefix>-<code>-<variant>
    name: str
    short: str
    category: str
    variants: list[_Variant]
    launch: date
    unit: str = "PCS"
    id: int = 0
    sku_count: int = 0


@dataclass(slots=True)
class _Sku:
    code: str
    name: str
    model: _Model
    attributes: dict[str, Any]
    unit: str
    moq: int
    order_multiple: int
    status: str
    launch_date: date
    id: int = 0


@dataclass(slots=True)
class SeedBuilder:
    """The seed for one tenant and scale; call the row methods in ``TABLES`` order."""

    tenant_id: int
    scale: Scale
    # Computed once by the caller (argon2 is slow on purpose) and shared by every demo login.
    password_hash: str
    seed: int = 42
    rng: random.Random = field(init=False)
    cities: dict[str, _CityRef] = field(init=False, default_factory=dict)
    area_ids: dict[str, int] = field(init=False, default_factory=dict)
    dealers: list[_Dealer] = field(init=False, default_factory=list)
    dealer_by_code: dict[str, _Dealer] = field(init=False, default_factory=dict)
    stores: list[_Store] = field(init=False, default_factory=list)
    store_by_code: dict[str, _Store] = field(init=False, default_factory=dict)
    category_ids: dict[str, int] = field(init=False, default_factory=dict)
    models: list[_Model] = field(init=False, default_factory=list)
    skus: list[_Sku] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        if self.scale.level1_dealers < 2 or self.scale.stores < len(FIXED_STORES):
            raise ValueError(f"scale {self.scale.name!r} is too small for the fixed demo rows")
        # The catalog plan has no foreign keys into the org tree: make it up front so its
        # size is known before ids are allocated.
        self._plan_catalog()

    # ---- sizes (the caller allocates this many ids per table) --------------------------------

    def count(self, table: str) -> int:
        counts = {
            "regions": len(geo.AREAS)
            + sum(1 + len(p.cities) for a in geo.AREAS for p in a.provinces),
            "dealers": self.scale.dealers,
            "stores": self.scale.stores,
            "warehouses": len(HQ_WAREHOUSES) + self.scale.dealers + self.scale.stores,
            "users": len(DEMO_USERS),
            "categories": len(CATEGORIES),
            "product_models": len(self.models),
            "skus": sum(m.sku_count for m in self.models),
            "assortment_rules": len(OPEN_CATEGORIES) + 2,
        }
        return counts[table]

    def rows(self, table: str, ids: Sequence[int]) -> TableRows:
        if len(ids) != self.count(table):
            raise ValueError(f"{table}: {len(ids)} ids for {self.count(table)} rows")
        it = iter(ids)
        match table:
            case "regions":
                return self._regions(it)
            case "dealers":
                return self._dealers(it)
            case "stores":
                return self._stores(it)
            case "warehouses":
                return self._warehouses(it)
            case "users":
                return self._users(it)
            case "categories":
                return self._categories(it)
            case "product_models":
                return self._product_models(it)
            case "skus":
                return self._skus(it)
            case "assortment_rules":
                return self._assortment_rules(it)
        raise ValueError(f"unknown table {table!r}")

    # ---- organization ------------------------------------------------------------------------

    def _regions(self, ids: Iterator[int]) -> TableRows:
        t = self.tenant_id
        records: list[Record] = []
        for area in geo.AREAS:
            area_id = next(ids)
            area_path = f"/{area_id}/"
            self.area_ids[area.code] = area_id
            records.append((area_id, t, area.code, area.name, "AREA", None, area_path))
            for prov in area.provinces:
                prov_id = next(ids)
                prov_path = f"{area_path}{prov_id}/"
                records.append((prov_id, t, prov.code, prov.name, "PROVINCE", area_id, prov_path))
                for city in prov.cities:
                    city_id = next(ids)
                    records.append((city_id, t, city.code, city.name, "CITY", prov_id, f"{prov_path}{city_id}/"))
                    self.cities[city.code] = _CityRef(city_id, city, prov, area, geo.city_short_name(prov, city))
        return TableRows("regions", ("id", "tenant_id", "code", "name", "kind", "parent_id", "path"), records)

    def _person(self) -> tuple[str, str]:
        rng = self.rng
        given = "".join(rng.choice(geo.GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
        # Mobile numbers: 11 digits on the common personal prefixes.
        phone = f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"
        return rng.choice(geo.SURNAMES) + given, phone

    def _company_name(self, city: _CityRef, taken: set[str]) -> str:
        rng = self.rng
        for attempt in range(50):
            word = rng.choice(geo.TRADE_WORDS)
            if attempt >= 10:  # crowded city: two trade words give plenty of room
                word += rng.choice(geo.TRADE_WORDS)
            name = f"{city.short}{word}{rng.choice(geo.COMPANY_SUFFIXES)}"
            if name not in taken:
                taken.add(name)
                return name
        raise RuntimeError(f"no free company name in {city.city.name}")

    def _terms(self, level: int, tier: str) -> tuple[Decimal, int]:
        # Credit in steps of 10,000 CNY; better tiers get more credit and longer terms.
        lo, hi = {
            (1, "A"): (300, 500), (1, "B"): (150, 350), (1, "C"): (50, 150),
            (2, "A"): (100, 200), (2, "B"): (60, 120), (2, "C"): (30, 80),
        }[(level, tier)]
        credit = Decimal(self.rng.randint(lo, hi) * 10_000).quantize(Decimal("0.01"))
        terms = self.rng.choice({"A": (45, 60), "B": (30, 45), "C": (15, 30)}[tier])
        return credit, terms

    def _add_dealer(self, dealer: _Dealer) -> None:
        self.dealers.append(dealer)
        self.dealer_by_code[dealer.code] = dealer

    def _dealers(self, ids: Iterator[int]) -> TableRows:
        rng, scale = self.rng, self.scale
        taken = {f.name for f in FIXED_DEALERS}
        city_refs = list(self.cities.values())
        # Provincial capitals (listed first) weigh double; provinces by their e-bike market.
        capitals = {p.cities[0].code for a in geo.AREAS for p in a.provinces}
        city_weights = [
            c.province.weight * (2.0 if c.city.code in capitals else 1.0) / len(c.province.cities)
            for c in city_refs
        ]

        # Level 1: the fixed distributors keep D0001, D0002; the rest follow.
        fixed_l1 = [f for f in FIXED_DEALERS if f.parent_code is None]
        for f in fixed_l1:
            city = self.cities[f.city_code]
            dealer_id = next(ids)
            self._add_dealer(_Dealer(
                dealer_id, f.code, f.name, 1, None, f"/{dealer_id}/", city, f.tier, "ACTIVE",
                f.credit_limit, f.payment_terms_days, f.contact_name, f.contact_phone,
            ))
        n_generated = scale.level1_dealers - len(fixed_l1)
        l1_cities = rng.choices(city_refs, weights=city_weights, k=n_generated)
        for n, city in enumerate(l1_cities, start=len(fixed_l1) + 1):
            tier = rng.choices("ABC", weights=(3, 5, 2))[0]
            credit, terms = self._terms(1, tier)
            contact, phone = self._person()
            dealer_id = next(ids)
            self._add_dealer(_Dealer(
                dealer_id, f"D{n:04d}", self._company_name(city, taken), 1, None, f"/{dealer_id}/",
                city, tier, "ACTIVE", credit, terms, contact, phone,
            ))
        level1 = list(self.dealers)

        # Level 2: how many sub-dealers each distributor gets (tier A distributors get more).
        fixed_l2 = [f for f in FIXED_DEALERS if f.parent_code is not None]
        extra = Counter(
            d.code for d in rng.choices(
                level1,
                weights=[{"A": 3.0, "B": 2.0, "C": 1.0}[d.tier] for d in level1],
                k=scale.level2_dealers - len(fixed_l2),
            )
        )
        for parent in level1:
            children = [f for f in fixed_l2 if f.parent_code == parent.code]
            total = len(children) + extra[parent.code]
            if total > 99:
                raise ValueError(f"{parent.code}: {total} sub-dealers do not fit two-digit codes")
            for k in range(1, total + 1):
                code = f"{parent.code}-{k:02d}"
                dealer_id = next(ids)
                path = f"{parent.path}{dealer_id}/"
                if k <= len(children):
                    f = children[k - 1]
                    assert f.code == code, f"fixed sub-dealer {f.code} must be numbered {code}"
                    self._add_dealer(_Dealer(
                        dealer_id, code, f.name, 2, parent, path, self.cities[f.city_code], f.tier,
                        "ACTIVE", f.credit_limit, f.payment_terms_days, f.contact_name, f.contact_phone,
                    ))
                    continue
                # Sub-dealers cover the towns around their distributor: same province.
                same_city = rng.random() < 0.4
                city = parent.city if same_city else self.cities[rng.choice(parent.city.province.cities).code]
                tier = rng.choices("ABC", weights=(1, 4, 5))[0]
                credit, terms = self._terms(2, tier)
                contact, phone = self._person()
                self._add_dealer(_Dealer(
                    dealer_id, code, self._company_name(city, taken), 2, parent, path, city, tier,
                    "ACTIVE", credit, terms, contact, phone,
                ))

        fixed_codes = {f.code for f in FIXED_DEALERS}
        others = [d for d in self.dealers if d.code not in fixed_codes]
        for d in rng.sample(others, min(scale.suspended_dealers, len(others))):
            d.status = "SUSPENDED"

        t = self.tenant_id
        records = [
            (d.id, t, d.code, d.name, d.level, d.parent.id if d.parent else None, d.path, d.city.id,
             d.tier, d.status, d.credit_limit, d.payment_terms_days, d.contact_name, d.contact_phone)
            for d in self.dealers
        ]
        return TableRows(
            "dealers",
            ("id", "tenant_id", "code", "name", "level", "parent_id", "path", "region_id", "tier", "status",
             "credit_limit", "payment_terms_days", "contact_name", "contact_phone"),
            records,
        )

    def _store(self, store_id: int, code: str, dealer: _Dealer, city: _CityRef, fmt: str, street: str,
               number: int, taken: set[str]) -> _Store:
        rng = self.rng
        word = _FORMAT_WORD[fmt]
        name = f"云途电动车{city.short}{street}{word}"
        for _ in range(5):
            if name not in taken:
                break
            street = rng.choice(geo.STREETS)
            name = f"云途电动车{city.short}{street}{word}"
        else:
            # A crowded city: the street number tells the stores apart.
            name = f"云途电动车{city.short}{street}{number}号{word}"
            if name in taken:
                name = f"{name}({code})"
        taken.add(name)
        address = f"{city.province.name}{city.city.name}{street}{number}号"
        # Within ~5 km of the city centre.
        lat = round(city.city.lat + rng.gauss(0, 0.04), 6)
        lng = round(city.city.lng + rng.gauss(0, 0.05), 6)
        return _Store(store_id, code, name, dealer, city, fmt, address, lat, lng)

    def _stores(self, ids: Iterator[int]) -> TableRows:
        rng = self.rng
        taken: set[str] = set()
        for f in FIXED_STORES:
            dealer = self.dealer_by_code[f.dealer_code]
            s = self._store(next(ids), f.code, dealer, self.cities[f.city_code], f.format, f.street, f.number,
                            taken)
            self.stores.append(s)
            self.store_by_code[s.code] = s

        # Every dealer runs at least one store; the rest go to bigger and better dealers.
        with_store = {f.dealer_code for f in FIXED_STORES}
        owners = [d for d in self.dealers if d.code not in with_store]
        remaining = self.scale.stores - len(FIXED_STORES) - len(owners)
        if remaining < 0:
            owners = owners[: self.scale.stores - len(FIXED_STORES)]
            remaining = 0
        weights = [{"A": 3.0, "B": 2.0, "C": 1.0}[d.tier] * (1.5 if d.level == 1 else 1.0) for d in self.dealers]
        owners += rng.choices(self.dealers, weights=weights, k=remaining)
        rng.shuffle(owners)  # codes follow opening order, not dealer order
        formats = rng.choices(
            [f for f, _, _ in STORE_FORMATS], weights=[s for _, _, s in STORE_FORMATS], k=len(owners)
        )
        for n, (dealer, fmt) in enumerate(zip(owners, formats, strict=True), start=len(FIXED_STORES) + 1):
            city = dealer.city
            if rng.random() < 0.15:
                city = self.cities[rng.choice(dealer.city.province.cities).code]
            s = self._store(next(ids), f"S{n:05d}", dealer, city, fmt, rng.choice(geo.STREETS),
                            rng.randint(1, 999), taken)
            self.stores.append(s)
            self.store_by_code[s.code] = s

        t = self.tenant_id
        records = [
            (s.id, t, s.code, s.name, s.dealer.id, s.city.id, s.address, s.lat, s.lng, s.format, "ACTIVE")
            for s in self.stores
        ]
        return TableRows(
            "stores",
            ("id", "tenant_id", "code", "name", "dealer_id", "region_id", "address", "lat", "lng", "format",
             "status"),
            records,
        )

    def _warehouses(self, ids: Iterator[int]) -> TableRows:
        t = self.tenant_id
        records: list[Record] = [
            (next(ids), t, code, name, "HQ", None, None, self.cities[city].id)
            for code, name, city in HQ_WAREHOUSES
        ]
        # Same code and name scheme as org.service uses when a dealer or store is created.
        records += [
            (next(ids), t, f"W-{d.code}", f"{d.name} 仓库", "DEALER", d.id, None, d.city.id) for d in self.dealers
        ]
        records += [
            (next(ids), t, f"W-{s.code}", f"{s.name} 库存", "STORE", s.dealer.id, s.id, s.city.id)
            for s in self.stores
        ]
        return TableRows(
            "warehouses",
            ("id", "tenant_id", "code", "name", "owner_kind", "dealer_id", "store_id", "region_id"),
            records,
        )

    def _users(self, ids: Iterator[int]) -> TableRows:
        t = self.tenant_id
        records: list[Record] = []
        for u in DEMO_USERS:
            dealer_id = self.dealer_by_code[u.dealer_code].id if u.dealer_code else None
            store_id = self.store_by_code[u.store_code].id if u.store_code else None
            region_ids = [self.area_ids[a] for a in u.area_codes]
            records.append(
                (next(ids), t, u.email.lower(), u.name, self.password_hash, u.role, dealer_id, store_id, region_ids,
                 "ACTIVE")
            )
        return TableRows(
            "users",
            ("id", "tenant_id", "email", "name", "password_hash", "role", "dealer_id", "store_id", "region_ids",
             "status"),
            records,
        )

    # ---- catalog -----------------------------------------------------------------------------

    def _plan_catalog(self) -> None:
        rng, scale = self.rng, self.scale
        per_category = _largest_remainder(_MODEL_SHARE, scale.product_models)
        candidates = _model_candidates()
        for category, n in per_category.items():
            available = candidates[category]
            if n > len(available):
                raise ValueError(f"{category}: {n} models wanted, {len(available)} known")
            self.models += available[:n]
        # SKUs round-robin over models, each up to its number of variants.
        remaining = scale.skus
        if remaining > sum(len(m.variants) for m in self.models):
            raise ValueError(f"{scale.skus} SKUs do not fit {len(self.models)} models")
        while remaining:
            for m in self.models:
                if remaining and m.sku_count < len(m.variants):
                    m.sku_count += 1
                    remaining -= 1

        for m in self.models:
            m.launch = date(2021, 1, 1) + timedelta(days=rng.randrange(5 * 365 + 240))
            prefix = _SKU_PREFIX[m.category]
            unit, moq, multiple = _ordering(rng, m)
            for v in m.variants[: m.sku_count]:
                launch = min(m.launch + timedelta(days=rng.choice((0, 0, 30, 90, 180))), date(2026, 10, 31))
                self.skus.append(_Sku(
                    f"{prefix}-{m.code}-{v.code}", f"{m.short} {v.name}".strip(), m, v.attributes, unit, moq, multiple,
                    "ACTIVE", launch,
                ))
        fixed = {FIXED_SKU_CODE, D0002_PREMIUM_SKU_CODE}
        codes = {s.code for s in self.skus}
        if not fixed <= codes:
            raise ValueError(f"scale {scale.name!r} lacks the fixed SKUs {sorted(fixed - codes)}")
        others = [s for s in self.skus if s.code not in fixed]
        picked = rng.sample(others, scale.discontinued_skus + scale.draft_skus)
        for s in picked[: scale.discontinued_skus]:
            s.status = "DISCONTINUED"
        for s in picked[scale.discontinued_skus :]:
            s.status = "DRAFT"  # not launched yet
            s.launch_date = date(2027, 1, 1) + timedelta(days=rng.randrange(180))

    def _categories(self, ids: Iterator[int]) -> TableRows:
        records: list[Record] = []
        for code, name in CATEGORIES:
            cid = next(ids)
            self.category_ids[code] = cid
            records.append((cid, self.tenant_id, code, name, None))
        return TableRows("categories", ("id", "tenant_id", "code", "name", "parent_id"), records)

    def _product_models(self, ids: Iterator[int]) -> TableRows:
        records: list[Record] = []
        for m in self.models:
            m.id = next(ids)
            records.append((m.id, self.tenant_id, f"M-{m.code}", m.name, self.category_ids[m.category]))
        return TableRows("product_models", ("id", "tenant_id", "code", "name", "category_id"), records)

    def _skus(self, ids: Iterator[int]) -> TableRows:
        records: list[Record] = []
        for s in self.skus:
            s.id = next(ids)
            records.append((
                s.id, self.tenant_id, s.code, s.name, s.model.id, self.category_ids[s.model.category],
                json.dumps(s.attributes, ensure_ascii=False), s.unit, s.moq, s.order_multiple,
                s.model.category in _SERIAL_TRACKED, s.status, s.launch_date,
            ))
        return TableRows(
            "skus",
            ("id", "tenant_id", "code", "name", "model_id", "category_id", "attributes", "unit", "moq",
             "order_multiple", "serial_tracked", "status", "launch_date"),
            records,
        )

    def _assortment_rules(self, ids: Iterator[int]) -> TableRows:
        t, cat = self.tenant_id, self.category_ids
        names = dict(CATEGORIES)
        # (name, dealer_level, dealer_tier, region_id, dealer_id, category_id, sku_id)
        rules: list[tuple[str, int | None, str | None, int | None, int | None, int | None, int | None]] = [
            (f"全部经销商：{names[c]}", None, None, None, None, cat[c], None) for c in OPEN_CATEGORIES
        ]
        rules.append((f"A 类经销商：{names['PREMIUM']}", None, "A", None, None, cat["PREMIUM"], None))
        premium = next(s for s in self.skus if s.code == D0002_PREMIUM_SKU_CODE)
        rules.append(
            (f"D0002 专供：{premium.name}", None, None, None, self.dealer_by_code["D0002"].id, None, premium.id)
        )
        records = [(next(ids), t, *r) for r in rules]
        return TableRows(
            "assortment_rules",
            ("id", "tenant_id", "name", "dealer_level", "dealer_tier", "region_id", "dealer_id", "category_id",
             "sku_id"),
            records,
        )


def _largest_remainder(shares: dict[str, float], total: int) -> dict[str, int]:
    raw = {k: v * total / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _ordering(rng: random.Random, m: _Model) -> tuple[str, int, int]:
    """(unit, MOQ, order multiple): vehicles one by one, batteries and accessories in packs.

    The MOQ is always a multiple of the order multiple, so the MOQ itself is orderable.
    """
    if m.category in ("EBIKE", "SCOOTER"):
        return "PCS", rng.choice((1, 1, 2, 3, 5)), 1
    if m.category == "PREMIUM":
        return "PCS", 1, 1
    if m.category == "BATTERY":
        multiple = rng.choice((2, 5))
        return "PCS", multiple * rng.choice((1, 2)), multiple
    # Loose pieces ship in cartons of 5 or 10; sets and boxes are already packs.
    multiple = rng.choice((5, 10)) if m.unit == "PCS" else rng.choice((1, 2))
    return m.unit, min(10, multiple * rng.choice((1, 2))), multiple


def _vehicle_variants(
    category: str, number: int, colours: Sequence[tuple[str, str]], voltages: Sequence[int], offset: int
) -> list[_Variant]:
    # Rotate colours per model so the first few variants differ between models.
    rotated = [*colours[offset % len(colours):], *colours[: offset % len(colours)]]
    variants: list[_Variant] = []
    for ccode, cname in rotated:
        for volt in voltages:
            if category == "EBIKE":
                attrs: dict[str, Any] = {
                    "range_km": number // 12 + (15 if volt == 48 else 0),
                    "weight_kg": round(42 + number / 100, 1),
                    "max_speed_kmh": 25,
                    "motor_w": 400 if number >= 500 else 350,
                    "battery_ah": 20 if volt == 48 else 15,
                    "standard": "GB17761-2018",
                }
            elif category == "SCOOTER":
                attrs = {
                    "range_km": number // 20 + volt,
                    "weight_kg": round(75 + number / 50, 1),
                    "max_speed_kmh": 45 + min(number, 3000) // 150,
                    "motor_w": number,
                    "battery_ah": 32,
                }
            else:
                attrs = {
                    "range_km": 120 + volt,
                    "weight_kg": 110.0,
                    "max_speed_kmh": 80,
                    "motor_w": number,
                    "battery_ah": 45,
                    "smart": True,
                }
            variants.append(_Variant(
                f"{ccode}-{volt}V", f"{volt}V {cname}",
                {"colour": cname, "colour_code": ccode, "voltage": volt, **attrs},
            ))
    return variants


def _model_candidates() -> dict[str, list[_Model]]:
    """Every product model the seed may use, per category, most important first."""
    placeholder = date(2021, 1, 1)
    out: dict[str, list[_Model]] = {c: [] for c, _ in CATEGORIES}

    ebike_series = (("XY", "小鹰"), ("FY", "飞燕"), ("QS", "青松"), ("YQ", "云雀"), ("JM", "骏马"),
                    ("FN", "蜂鸟"), ("BL", "白鹭"))
    ebike_kinds = ("城市通勤电动车", "轻便电动自行车", "长续航电动自行车", "新国标电动自行车", "折叠电动自行车")
    for number in (500, 300, 700, 350, 550, 800):
        for code, name in ebike_series:
            i = len(out["EBIKE"])
            out["EBIKE"].append(_Model(
                f"{code}{number}", f"{name}{number} {ebike_kinds[i % len(ebike_kinds)]}", f"{name}{number}",
                "EBIKE", _vehicle_variants("EBIKE", number, _COLOURS, (48, 36), i), placeholder,
            ))

    scooter_series = (("LB", "猎豹"), ("LT", "雷霆"), ("JF", "疾风"), ("YH", "银河"), ("ZG", "追光"))
    scooter_kinds = ("电动摩托车", "电动踏板车", "长续航电动摩托车", "豪华电动踏板车")
    for number in (1200, 1000, 1500, 2000, 3000):
        for code, name in scooter_series:
            i = len(out["SCOOTER"])
            out["SCOOTER"].append(_Model(
                f"{code}{number}", f"{name}{number} {scooter_kinds[i % len(scooter_kinds)]}", f"{name}{number}",
                "SCOOTER", _vehicle_variants("SCOOTER", number, _COLOURS, (60, 72, 48), i), placeholder,
            ))

    premium_series = (("TY", "天鹰"), ("JG", "极光"), ("CQ", "苍穹"))
    premium_kinds = ("高端智能电动摩托车", "旗舰智能电动车")
    for suffix, motor_w in (("X9", 6000), ("X7", 5000), ("S9", 4000), ("S7", 3000)):
        for code, name in premium_series:
            i = len(out["PREMIUM"])
            out["PREMIUM"].append(_Model(
                f"{code}{suffix}", f"{name}{suffix} {premium_kinds[i % len(premium_kinds)]}", f"{name}{suffix}",
                "PREMIUM", _vehicle_variants("PREMIUM", motor_w, _PREMIUM_COLOURS, (72, 60), i), placeholder,
            ))

    chemistries = (("BL", "锂电池组", "锂离子", 6.5, 1000), ("BG", "石墨烯电池", "石墨烯铅酸", 16.0, 500),
                   ("BF", "磷酸铁锂电池", "磷酸铁锂", 7.5, 2000), ("BN", "钠离子电池", "钠离子", 8.0, 3000))
    for volt in (48, 60, 72):
        for code, name, chem, kg_per_kwh, cycles in chemistries:
            variants = [
                _Variant(f"{ah}AH", f"{volt}V{ah}Ah {name}", {
                    "voltage": volt, "capacity_ah": ah, "chemistry": chem,
                    "weight_kg": round(volt * ah / 1000 * kg_per_kwh, 1), "cycle_life": cycles,
                })
                for ah in (20, 12, 24, 32, 45)
            ]
            # No short name: the variant already reads "48V20Ah 锂电池组".
            out["BATTERY"].append(_Model(f"{code}{volt}", f"{volt}V {name}", "", "BATTERY", variants, placeholder))

    accessories = (("TK", "安全头盔", "PCS", "colour"), ("CDQ", "智能充电器", "PCS", "charger"),
                   ("CK", "前车筐", "PCS", "colour"), ("DFB", "挡风被", "PCS", "colour"),
                   ("SJZ", "手机支架", "BOX", "colour"), ("CS", "防盗车锁", "PCS", "colour"),
                   ("HSJ", "后视镜", "SET", "colour"), ("YP", "遮阳雨篷", "SET", "colour"),
                   ("WX", "尾箱", "PCS", "colour"), ("ZT", "防水座套", "BOX", "colour"))
    chargers = [(f"{v}V{a}A", f"{v}V {a}A{' 快充' if a == 5 else ''}") for a in (3, 5) for v in (48, 60, 72)]
    for gen, gen_name in ((1, "标准款"), (2, "升级款"), (3, "旗舰款")):
        for code, name, unit, kind in accessories:
            i = len(out["ACCESSORY"])
            if kind == "charger":
                variants = [_Variant(c, n, {"output": n}) for c, n in chargers]
            else:
                rotated = [*_COLOURS[i % 6:], *_COLOURS[: i % 6]]
                variants = [_Variant(c, n, {"colour": n, "colour_code": c}) for c, n in rotated]
            out["ACCESSORY"].append(_Model(
                f"{code}{gen}", f"{name} {gen_name}", f"{name} {gen_name}", "ACCESSORY", variants, placeholder,
                unit=unit,
            ))
    return out
