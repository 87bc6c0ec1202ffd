"""GraphQL nodes -> the raw contract's rows (docs/raw_contract.md, `shopify`), and the column hints
that give every table its exact columns and Postgres types even when a column is null on every row.

Vendor values are kept (gids, Shopify's enum strings); only money amounts become numeric, timestamps
timestamptz and `UnsignedInt64` counts integers, so dbt staging casts nothing surprising.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

JOURNEY_ATTRIBUTE = "_journey_anonymous_id"
VISIT_FIELDS = (
    "source", "source_type", "landing_page", "referrer_url", "occurred_at",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id",
)  # fmt: skip

T, TS, NUM, INT, BOOL = "text", "timestamp", "decimal", "bigint", "bool"


def _cols(spec: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": kind, "nullable": True} for name, kind in spec}


COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "orders": _cols([
        ("id", T), ("name", T), ("created_at", TS), ("updated_at", TS), ("processed_at", TS),
        ("cancelled_at", TS), ("test", BOOL), ("financial_status", T), ("email", T), ("phone", T),
        ("currency_code", T), ("subtotal_amount", NUM), ("total_discounts_amount", NUM),
        ("total_price_amount", NUM), ("total_refunded_amount", NUM), ("customer_id", T), ("discount_codes", T),
        ("total_shipping_amount", NUM), ("total_tax_amount", NUM),
        ("journey_anonymous_id", T), ("landing_page", T), ("referring_site", T),
        *((f"{visit}_{f}", TS if f == "occurred_at" else T) for visit in ("first_visit", "last_visit")
          for f in VISIT_FIELDS),
    ]),
    "order_line_items": _cols([
        ("id", T), ("order_id", T), ("product_id", T), ("variant_id", T), ("sku", T), ("title", T),
        ("quantity", INT), ("original_unit_price_amount", NUM), ("total_discount_amount", NUM),
        ("order_updated_at", TS),
    ]),
    "refunds": _cols([
        ("id", T), ("order_id", T), ("created_at", TS), ("note", T), ("total_refunded_amount", NUM),
        ("order_updated_at", TS),
    ]),
    "refund_line_items": _cols([
        ("id", T), ("refund_id", T), ("order_id", T), ("line_item_id", T), ("quantity", INT),
        ("subtotal_amount", NUM),
    ]),
    "customers": _cols([
        ("id", T), ("email", T), ("phone", T), ("first_name", T), ("last_name", T), ("state", T),
        ("accepts_marketing", BOOL), ("created_at", TS), ("updated_at", TS), ("number_of_orders", INT),
        ("amount_spent_amount", NUM), ("city", T), ("country_code", T), ("province_code", T),
    ]),
    "products": _cols([
        ("id", T), ("title", T), ("handle", T), ("product_type", T), ("vendor", T), ("status", T), ("tags", T),
        ("created_at", TS), ("updated_at", TS),
    ]),
    "product_variants": _cols([
        ("id", T), ("product_id", T), ("sku", T), ("title", T), ("price", NUM), ("unit_cost_amount", NUM),
    ]),
}  # fmt: skip


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def money(bag: dict[str, Any] | None) -> Decimal | None:
    """`…Set { shopMoney { amount } }` -> Decimal (amounts are strings on the wire)."""
    if not bag:
        return None
    shop = bag.get("shopMoney") or bag
    return None if shop.get("amount") is None else Decimal(shop["amount"])


def _id(obj: dict[str, Any] | None) -> str | None:
    return (obj or {}).get("id")


def _utm_id(landing_page: str | None) -> str | None:
    """Shopify's UTMParameters has no `id`; a real landing page URL may still carry `utm_id`."""
    if not landing_page or "?" not in landing_page:
        return None
    return (parse_qs(urlsplit(landing_page).query).get("utm_id") or [None])[0]


def _visit(prefix: str, visit: dict[str, Any] | None) -> dict[str, Any]:
    visit = visit or {}
    utm = visit.get("utmParameters") or {}
    return {
        f"{prefix}_source": visit.get("source"),
        f"{prefix}_source_type": visit.get("sourceType"),
        f"{prefix}_landing_page": visit.get("landingPage"),
        f"{prefix}_referrer_url": visit.get("referrerUrl"),
        f"{prefix}_occurred_at": ts(visit.get("occurredAt")),
        f"{prefix}_utm_source": utm.get("source"),
        f"{prefix}_utm_medium": utm.get("medium"),
        f"{prefix}_utm_campaign": utm.get("campaign"),
        f"{prefix}_utm_content": utm.get("content"),
        f"{prefix}_utm_term": utm.get("term"),
        f"{prefix}_utm_id": _utm_id(visit.get("landingPage")),
    }


def order_row(o: dict[str, Any]) -> dict[str, Any]:
    journey = o.get("customerJourneySummary") or {}
    last = journey.get("lastVisit") or {}
    attributes = {a["key"]: a.get("value") for a in o.get("customAttributes") or []}
    codes = o.get("discountCodes") or []
    return {
        "id": o["id"],
        "name": o.get("name"),
        "created_at": ts(o.get("createdAt")),
        "updated_at": ts(o.get("updatedAt")),
        "processed_at": ts(o.get("processedAt")),
        "cancelled_at": ts(o.get("cancelledAt")),
        "test": o.get("test"),
        "financial_status": o.get("displayFinancialStatus"),
        "email": o.get("email"),
        "phone": o.get("phone"),
        "currency_code": o.get("currencyCode"),
        "subtotal_amount": money(o.get("subtotalPriceSet")),
        "total_discounts_amount": money(o.get("totalDiscountsSet")),
        "total_price_amount": money(o.get("totalPriceSet")),
        "total_refunded_amount": money(o.get("totalRefundedSet")),
        "total_shipping_amount": money(o.get("totalShippingPriceSet")),
        "total_tax_amount": money(o.get("totalTaxSet")),
        "customer_id": _id(o.get("customer")),
        "discount_codes": ",".join(codes) if codes else None,
        "journey_anonymous_id": attributes.get(JOURNEY_ATTRIBUTE) or None,
        # the order's own landing page / referrer: Shopify reports them as the last visit's
        "landing_page": last.get("landingPage"),
        "referring_site": last.get("referrerUrl"),
        **_visit("first_visit", journey.get("firstVisit")),
        **_visit("last_visit", journey.get("lastVisit")),
    }


def line_item_rows(o: dict[str, Any]) -> list[dict[str, Any]]:
    updated = ts(o.get("updatedAt"))
    return [
        {
            "id": li["id"],
            "order_id": o["id"],
            "product_id": _id(li.get("product")),
            "variant_id": _id(li.get("variant")),
            "sku": li.get("sku"),
            "title": li.get("title"),
            "quantity": li.get("quantity"),
            "original_unit_price_amount": money(li.get("originalUnitPriceSet")),
            "total_discount_amount": money(li.get("totalDiscountSet")),
            "order_updated_at": updated,
        }
        for li in (o.get("lineItems") or {}).get("nodes", [])
    ]


def refund_rows(o: dict[str, Any]) -> list[dict[str, Any]]:
    updated = ts(o.get("updatedAt"))
    return [
        {
            "id": r["id"],
            "order_id": o["id"],
            "created_at": ts(r.get("createdAt")),
            "note": r.get("note"),
            "total_refunded_amount": money(r.get("totalRefundedSet")),
            "order_updated_at": updated,
        }
        for r in o.get("refunds") or []
    ]


def refund_line_item_rows(o: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": rl["id"],
            "refund_id": r["id"],
            "order_id": o["id"],
            "line_item_id": _id(rl.get("lineItem")),
            "quantity": rl.get("quantity"),
            "subtotal_amount": money(rl.get("subtotalSet")),
        }
        for r in o.get("refunds") or []
        for rl in (r.get("refundLineItems") or {}).get("nodes", [])
    ]


def customer_row(c: dict[str, Any]) -> dict[str, Any]:
    """`email`/`phone`/`accepts_marketing` come from `defaultEmailAddress`/`defaultPhoneNumber` (the
    deprecated `Customer.email`, `phone`, `emailMarketingConsent` are no longer read); the columns keep
    their names, so the raw contract and dbt staging are unchanged. No email = no marketing consent."""
    email = c.get("defaultEmailAddress") or {}
    phone = c.get("defaultPhoneNumber") or {}
    address = c.get("defaultAddress") or {}
    return {
        "id": c["id"],
        "email": email.get("emailAddress"),
        "phone": phone.get("phoneNumber"),
        "first_name": c.get("firstName"),
        "last_name": c.get("lastName"),
        "state": c.get("state"),
        "accepts_marketing": email.get("marketingState") == "SUBSCRIBED" if email else None,
        "created_at": ts(c.get("createdAt")),
        "updated_at": ts(c.get("updatedAt")),
        "number_of_orders": None if c.get("numberOfOrders") is None else int(c["numberOfOrders"]),
        "amount_spent_amount": money(c.get("amountSpent")),
        "city": address.get("city"),
        "country_code": address.get("countryCodeV2"),
        "province_code": address.get("provinceCode"),
    }


def product_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "title": p.get("title"),
        "handle": p.get("handle"),
        "product_type": p.get("productType"),
        "vendor": p.get("vendor"),
        "status": p.get("status"),
        "tags": ",".join(p.get("tags") or []),
        "created_at": ts(p.get("createdAt")),
        "updated_at": ts(p.get("updatedAt")),
    }


def variant_rows(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": v["id"],
            "product_id": p["id"],
            "sku": v.get("sku"),
            "title": v.get("title"),
            "price": None if v.get("price") is None else Decimal(v["price"]),
            # the inventory item's cost (read_products is enough since 2025-01); null = no cost entered
            "unit_cost_amount": money((v.get("inventoryItem") or {}).get("unitCost")),
        }
        for v in (p.get("variants") or {}).get("nodes", [])
    ]
