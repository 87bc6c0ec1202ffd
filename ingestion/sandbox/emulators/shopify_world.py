"""The simulated shop as the Shopify Admin API would show it at a moment `as_of`.

The world's Parquet holds the state at `end_date` (docs/sandbox.md). What the API shows earlier is
rebuilt from the timestamps: orders, customers and products exist once created; a refund or a
cancellation is visible from its own timestamp on, and bumps the order's `updatedAt` then (that is
what an incremental connector sees). Objects are GraphQL-shaped dicts (camelCase keys, gids, money as
`MoneyBag`s with string amounts), so graphql-core's default resolvers read them directly; the keys
starting with `_` hold nested lists that the schema's connection resolvers page over.

Customer tags are the one thing the API can write (`tagsAdd` / `tagsRemove`): `CustomerTags` holds
them as live state, the writes received since the emulator started, laid over every view (whatever its
`as_of`). A write bumps the customer's `updatedAt` to the shop's current moment (the view's `as_of`),
so an incremental customers load sees the tagged customers again, as on Shopify.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

CURRENCY = "USD"
JOURNEY_ATTRIBUTE = "_journey_anonymous_id"
INVENTORY_ITEM_ID_OFFSET = 4_000_000_000_000  # inventory item ids are their own sequence in Shopify
UNTAGGED_MEDIUMS = frozenset({"(none)", "organic", "referral"})  # visits without utm_* in their URL
MAX_TAG_LENGTH = 255  # characters of one tag, after trimming
MAX_TAGS = 250  # tags on one resource


def gid(kind: str, value: int | None) -> str | None:
    return None if value is None else f"gid://shopify/{kind}/{int(value)}"


def iso(ts: datetime | None) -> str | None:
    """Shopify DateTime (UTC, `Z`). Milliseconds are kept: the sandbox's clocks are ms-precise and
    the dbt tests match orders to tracked events at that precision."""
    if ts is None:
        return None
    text = ts.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def amount(value: Decimal | float | int | None) -> str:
    """Shopify's Decimal scalar: a string, at least one decimal (`40.14`, `40.1`, `40.0`)."""
    text = f"{Decimal(value or 0):.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def money_bag(value: Decimal | float | int | None) -> dict[str, Any]:
    money = {"amount": amount(value), "currencyCode": CURRENCY}
    return {"shopMoney": money, "presentmentMoney": money}


def parse_as_of(value: str | None, default: datetime) -> datetime:
    """`YYYY-MM-DD` (midnight UTC) or an ISO timestamp; None = the world's end."""
    if not value:
        return default
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _rows(world_dir: Path, name: str) -> list[dict[str, Any]]:
    for candidate in (world_dir / f"{name}.parquet", world_dir / name):
        if candidate.exists():
            return pq.read_table(candidate).to_pylist()
    raise FileNotFoundError(f"simulated shop table {name!r} not found under {world_dir}")


def _visit(order: dict[str, Any], visit: str, n: int) -> dict[str, Any] | None:
    """A `CustomerVisit`; None when Shopify recorded no journey (its `source` is non-null)."""
    source = order[f"{visit}_source"]
    if source is None:
        return None
    medium = order[f"{visit}_medium"]
    tagged = medium is not None and medium not in UNTAGGED_MEDIUMS
    utm = None
    if tagged:
        utm = {
            "source": source,
            "medium": medium,
            "campaign": order[f"{visit}_campaign"],
            "content": order[f"{visit}_content"],
            "term": None,
        }
    return {
        "id": gid("CustomerVisit", n),
        "source": source,
        "sourceType": None,
        "sourceDescription": None,
        "landingPage": order[f"{visit}_landing_page"],
        "referrerUrl": order[f"{visit}_referrer"],
        "occurredAt": iso(order[f"{visit}_at"]),
        "utmParameters": utm,
    }


def _updated_key(node: dict[str, Any]) -> tuple[str, int]:
    return node["updatedAt"], int(node["id"].rsplit("/", 1)[1])


@dataclass
class ShopView:
    """Everything visible at `as_of`, each list sorted by (updatedAt, id) for cursor paging.
    `revision` grows with every tag write, so cached listings of an older revision are not reused."""

    as_of: datetime
    orders: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    products: list[dict[str, Any]]
    revision: int = 0
    _customer_index: dict[str, dict[str, Any]] | None = field(default=None, repr=False)

    def customer(self, customer_gid: str) -> dict[str, Any] | None:
        if self._customer_index is None:
            self._customer_index = {c["id"]: c for c in self.customers}
        return self._customer_index.get(customer_gid)


def split_tags(values: Iterable[str]) -> list[str]:
    """Tags as Shopify stores them: a value may hold several comma-separated tags, each trimmed;
    empty ones are dropped and duplicates (case-insensitively) kept once, first spelling wins."""
    out: dict[str, str] = {}
    for value in values:
        for tag in value.split(","):
            tag = tag.strip()
            if tag and tag.casefold() not in out:
                out[tag.casefold()] = tag
    return list(out.values())


def _sorted_tags(tags: Iterable[str]) -> list[str]:
    return sorted(tags, key=lambda t: (t.casefold(), t))


@dataclass(frozen=True)
class TagChange:
    """What one `tagsAdd` / `tagsRemove` did: the customer node (None when not found) and the
    mutation's `userErrors` (`{"field": [...], "message": ...}`)."""

    node: dict[str, Any] | None
    user_errors: tuple[dict[str, Any], ...] = ()


class CustomerTags:
    """Customer tags written through the API: live state, thread-safe, laid over every view.

    Also counts what tests assert on: `calls` (tag mutations executed, per customer gid: a retried
    request that never reached the resolver is not counted) and `writes` (mutations that changed tags).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[str, list[str]] = {}
        self._updated: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.writes = 0

    def overlay(self, node: dict[str, Any]) -> dict[str, Any]:
        """Apply the written tags (and the later `updatedAt`) to a freshly built customer node."""
        with self._lock:
            if node["id"] in self._tags:
                node["tags"] = list(self._tags[node["id"]])
                node["updatedAt"] = max(node["updatedAt"], self._updated[node["id"]])
        return node

    def change(self, view: ShopView, customer_gid: str, values: list[str], add: bool) -> TagChange:
        """Add or remove tags of one customer in `view`. Adding a tag the customer has (in any case) and
        removing one it has not are no-ops; a write that changes nothing leaves `updatedAt` alone."""
        with self._lock:
            self.calls[customer_gid] += 1
            node = view.customer(customer_gid)
            if node is None:
                return TagChange(None, (_user_error("id", "Customer not found"),))
            tags = split_tags(values)
            if not tags:
                return TagChange(None, (_user_error("tags", "At least one tag is required"),))
            if any(len(t) > MAX_TAG_LENGTH for t in tags):
                # worded as Shopify words the same check on product tags ("Product tags is invalid")
                return TagChange(node, (_user_error("tags", "Customer tags is invalid"),))
            current = list(node["tags"])
            have = {t.casefold() for t in current}
            if add:
                after = current + [t for t in tags if t.casefold() not in have]
            else:
                drop = {t.casefold() for t in tags}
                after = [t for t in current if t.casefold() not in drop]
            if len(after) > MAX_TAGS:
                return TagChange(
                    node, (_user_error("tags", f"Customer can't have more than {MAX_TAGS} tags"),)
                )
            if len(after) == len(current):
                return TagChange(node)
            updated = max(node["updatedAt"], iso(view.as_of))
            self._tags[customer_gid], self._updated[customer_gid] = _sorted_tags(after), updated
            self.writes += 1
            node["tags"], node["updatedAt"] = list(self._tags[customer_gid]), updated
            view.customers = sorted(view.customers, key=_updated_key)  # a new list: pagers keep theirs
            view.revision += 1
            return TagChange(node)

    def state(self) -> dict[str, Any]:
        """What `GET /_emulator/tags` answers."""
        with self._lock:
            return {
                "tags": {gid: list(tags) for gid, tags in sorted(self._tags.items())},
                "mutations": dict(sorted(self.calls.items())),
                "writes": self.writes,
            }

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {"tag_writes": self.writes, "tag_mutations": sum(self.calls.values())}

    def reset(self) -> None:
        with self._lock:
            self._tags.clear()
            self._updated.clear()
            self.calls.clear()
            self.writes = 0


def _user_error(field_name: str, message: str) -> dict[str, Any]:
    return {"field": [field_name], "message": message}


class ShopifyWorld:
    """The world's Parquet read once; `view(as_of)` builds (and caches) the API's state at a moment."""

    def __init__(self, world_dir: Path) -> None:
        self.world_dir = Path(world_dir)
        meta = json.loads((self.world_dir / "world.json").read_text())
        self.end = datetime.fromisoformat(meta["end_date"][:10]).replace(tzinfo=UTC)
        self.name = f"sandbox-{meta['size']}-{meta['seed']}"
        self._orders = _rows(self.world_dir, "orders")
        self._customers = _rows(self.world_dir, "customers")
        self._products = _rows(self.world_dir, "products")
        self._variants: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for v in _rows(self.world_dir, "product_variants"):
            self._variants[v["product_id"]].append(v)
        self._lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for line in _rows(self.world_dir, "order_line_items"):
            self._lines[line["order_id"]].append(line)
        self._refunds: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for refund in _rows(self.world_dir, "refunds"):
            self._refunds[refund["order_id"]].append(refund)
        self._refund_lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for rl in _rows(self.world_dir, "refund_line_items"):
            self._refund_lines[rl["refund_id"]].append(rl)
        self._view: ShopView | None = None
        self.tags = CustomerTags()

    def forget_view(self) -> None:
        """Rebuild the view on next use (after the tag state was reset)."""
        self._view = None

    def view(self, as_of: datetime | None = None) -> ShopView:
        as_of = as_of or self.end
        if self._view is None or self._view.as_of != as_of:
            self._view = self._build(as_of)
        return self._view

    # -- building the view -----------------------------------------------------------------------
    def _build(self, as_of: datetime) -> ShopView:
        products = {
            p["product_id"]: self._product(p, as_of) for p in self._products if p["created_at"] < as_of
        }
        variant_nodes = {v["id"]: v for p in products.values() for v in p["_variants"]}
        orders, spent, counts, last_order = [], defaultdict(Decimal), defaultdict(int), {}
        for o in self._orders:
            if o["created_at"] >= as_of:
                continue
            orders.append(self._order(o, as_of, products, variant_nodes))
            cid = o["customer_id"]
            spent[cid] += Decimal(o["total_price"])
            counts[cid] += 1
            last_order[cid] = max(last_order.get(cid, o["created_at"]), o["created_at"])
        customers = {}
        for c in self._customers:
            if c["created_at"] >= as_of:
                continue
            cid = c["customer_id"]
            customers[cid] = self._customer(c, counts[cid], spent[cid], last_order.get(cid))
        for order in orders:
            order["customer"] = customers.get(order["_customerId"])

        return ShopView(
            as_of=as_of,
            orders=sorted(orders, key=_updated_key),
            customers=sorted((self.tags.overlay(c) for c in customers.values()), key=_updated_key),
            products=sorted(products.values(), key=_updated_key),
        )

    def _product(self, p: dict[str, Any], as_of: datetime) -> dict[str, Any]:
        updated = p["updated_at"] if p["updated_at"] < as_of else p["created_at"]
        node: dict[str, Any] = {
            "id": gid("Product", p["product_id"]),
            "legacyResourceId": str(p["product_id"]),
            "title": p["title"],
            "handle": p["handle"],
            "productType": p["category"] or "",
            "vendor": p["vendor"],
            "status": p["status"],
            "tags": ["repeatable"] if p["repeatable"] else [],
            "createdAt": iso(p["created_at"]),
            "updatedAt": iso(updated),
        }
        node["_variants"] = [
            {
                "id": gid("ProductVariant", v["variant_id"]),
                "legacyResourceId": str(v["variant_id"]),
                "sku": v["sku"],
                "title": v["title"],
                "price": amount(v["price"]),
                "product": node,
                "inventoryItem": {
                    "id": gid("InventoryItem", v["variant_id"] + INVENTORY_ITEM_ID_OFFSET),
                    "legacyResourceId": str(v["variant_id"] + INVENTORY_ITEM_ID_OFFSET),
                    "sku": v["sku"],
                    "tracked": True,
                    # a shop that never entered a cost has none (worlds written before costs existed)
                    "unitCost": None
                    if v.get("unit_cost") is None
                    else {"amount": amount(v["unit_cost"]), "currencyCode": CURRENCY},
                },
            }
            for v in self._variants[p["product_id"]]
        ]
        return node

    def _customer(
        self, c: dict[str, Any], n_orders: int, spent: Decimal, last_order: datetime | None
    ) -> dict[str, Any]:
        updated = max(c["created_at"], last_order) if last_order else c["created_at"]
        consent = {
            "marketingState": "SUBSCRIBED" if c["accepts_marketing"] else "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN" if c["accepts_marketing"] else None,
        }
        return {
            "id": gid("Customer", c["customer_id"]),
            "legacyResourceId": str(c["customer_id"]),
            # deprecated on Customer since 2024: kept because Shopify still serves them
            "email": c["email"],
            "phone": c["phone"],
            "emailMarketingConsent": {**consent, "consentUpdatedAt": iso(c["created_at"])},
            "defaultEmailAddress": (
                {"emailAddress": c["email"], **consent, "marketingUpdatedAt": iso(c["created_at"])}
                if c["email"]
                else None
            ),
            "defaultPhoneNumber": {"phoneNumber": c["phone"]} if c["phone"] else None,
            "firstName": c["first_name"],
            "lastName": c["last_name"],
            "state": c["state"],
            "createdAt": iso(c["created_at"]),
            "updatedAt": iso(updated),
            "numberOfOrders": str(n_orders),  # UnsignedInt64: a string on the wire
            "amountSpent": money_bag(spent)["shopMoney"],
            "defaultAddress": {
                "city": c["city"],
                "countryCodeV2": c["country_code"],
                "provinceCode": c.get("province_code"),
            },
            "tags": [],
        }

    def _order(
        self,
        o: dict[str, Any],
        as_of: datetime,
        products: dict[int, dict[str, Any]],
        variants: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        refunds = [r for r in self._refunds[o["order_id"]] if r["created_at"] < as_of]
        cancelled = o["cancelled_at"] if o["cancelled_at"] is not None and o["cancelled_at"] < as_of else None
        refunded = sum((Decimal(r["amount"]) for r in refunds), Decimal(0))
        total = Decimal(o["total_price"])
        status = "PAID" if refunded == 0 else ("REFUNDED" if refunded >= total else "PARTIALLY_REFUNDED")
        updated = max(
            [o["created_at"], *([cancelled] if cancelled else []), *(r["created_at"] for r in refunds)]
        )
        lines = {}
        for line in self._lines[o["order_id"]]:
            variant = variants.get(gid("ProductVariant", line["variant_id"]))
            lines[line["line_item_id"]] = {
                "id": gid("LineItem", line["line_item_id"]),
                "name": line["title"],
                "title": line["title"],
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "originalUnitPriceSet": money_bag(line["price"]),
                "totalDiscountSet": money_bag(line["total_discount"]),
                "product": products.get(line["product_id"]),
                "variant": variant,
            }
        refund_nodes = []
        for r in refunds:
            refund_nodes.append({
                "id": gid("Refund", r["refund_id"]),
                "createdAt": iso(r["created_at"]),
                "note": r["note"],
                "totalRefundedSet": money_bag(r["amount"]),
                "_refundLineItems": [
                    {
                        "id": gid("RefundLineItem", rl["refund_line_item_id"]),
                        "quantity": int(rl["quantity"]),
                        "subtotalSet": money_bag(rl["subtotal"]),
                        "lineItem": lines.get(rl["line_item_id"]),
                    }
                    for rl in self._refund_lines[r["refund_id"]]
                ],
            })  # fmt: skip
        index = int(o["order_id"])
        attributes = [{"key": JOURNEY_ATTRIBUTE, "value": o["anonymous_id"]}] if o["anonymous_id"] else []
        first, last = _visit(o, "first_visit", 2 * index), _visit(o, "last_visit", 2 * index + 1)
        return {
            "id": gid("Order", o["order_id"]),
            "legacyResourceId": str(o["order_id"]),
            "name": o["name"],
            "createdAt": iso(o["created_at"]),
            "updatedAt": iso(updated),
            "processedAt": iso(o["processed_at"]),
            "cancelledAt": iso(cancelled),
            "cancelReason": "CUSTOMER" if cancelled else None,
            "closed": False,
            "test": bool(o["test"]),
            "displayFinancialStatus": status,
            "email": o["email"],
            "phone": o["phone"],
            "currencyCode": o["currency"],
            "sourceName": o["source_name"],
            "subtotalPriceSet": money_bag(o["subtotal_price"]),
            "totalDiscountsSet": money_bag(o["total_discounts"]),
            "totalShippingPriceSet": money_bag(o["total_shipping"]),
            "totalTaxSet": money_bag(o.get("total_tax") or 0),  # the simulated shop collects no tax
            "totalPriceSet": money_bag(total),
            "totalRefundedSet": money_bag(refunded),
            "discountCode": o["discount_code"],
            "discountCodes": [o["discount_code"]] if o["discount_code"] else [],
            "customAttributes": attributes,
            "customerJourneySummary": {
                "ready": True,
                "customerOrderIndex": None,
                "daysToConversion": None,
                "firstVisit": first,
                "lastVisit": last,
            },
            "tags": [],
            "_customerId": o["customer_id"],
            "_lineItems": list(lines.values()),
            "_refunds": refund_nodes,
        }
