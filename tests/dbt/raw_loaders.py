"""Land a simulated shop in the raw schemas with the project's loaders (no Dagster), for the dbt tier.

Events: the COPY loader on the world's landing files. Meta and GA4: the dlt pipelines against their
emulators (pipeline names of their own, so dlt state never mixes with the e2e tier's). Shopify: until the
Shopify connector lands, `shopify_from_world` writes the contract's tables (docs/raw_contract.md) from
the world's Parquet the way the connector shapes the GraphQL payload.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from ingestion.warehouse import WarehouseSettings

_JOURNEY_FIELDS = (
    "source", "source_type", "landing_page", "referrer_url", "occurred_at",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id",
)  # fmt: skip
_UNTAGGED_MEDIUMS = {"(none)", "organic", "referral"}

SHOPIFY_DDL = {
    "orders": "id text, name text, created_at timestamptz, updated_at timestamptz, processed_at timestamptz, "
    "cancelled_at timestamptz, test boolean, financial_status text, email text, phone text, currency_code text, "
    "subtotal_amount numeric, total_discounts_amount numeric, total_price_amount numeric, "
    "total_refunded_amount numeric, customer_id text, discount_codes text, journey_anonymous_id text, "
    "landing_page text, referring_site text, "
    + ", ".join(
        f"{visit}_{field} " + ("timestamptz" if field == "occurred_at" else "text")
        for visit in ("first_visit", "last_visit")
        for field in _JOURNEY_FIELDS
    ),
    "order_line_items": "id text, order_id text, product_id text, variant_id text, sku text, title text, "
    "quantity bigint, original_unit_price_amount numeric, total_discount_amount numeric, order_updated_at timestamptz",
    "refunds": "id text, order_id text, created_at timestamptz, note text, total_refunded_amount numeric, "
    "order_updated_at timestamptz",
    "refund_line_items": "id text, refund_id text, order_id text, line_item_id text, quantity bigint, "
    "subtotal_amount numeric",
    "customers": "id text, email text, phone text, first_name text, last_name text, state text, "
    "accepts_marketing boolean, created_at timestamptz, updated_at timestamptz, number_of_orders bigint, "
    "amount_spent_amount numeric, city text, country_code text",
    "products": "id text, title text, handle text, product_type text, vendor text, status text, tags text, "
    "created_at timestamptz, updated_at timestamptz",
    "product_variants": "id text, product_id text, sku text, title text, price numeric",
    "imported_orders": "order_id text, customer_id text, ordered_at timestamptz, amount numeric, currency text, "
    "items jsonb, source_file text, source_line bigint",
}


def _gid(kind: str, value: int | None) -> str | None:
    return None if value is None else f"gid://shopify/{kind}/{int(value)}"


def _shopify_rows(world: Path) -> dict[str, list[tuple]]:
    def read(name: str) -> list[dict]:
        return pq.read_table(world / f"{name}.parquet").to_pylist()

    orders, refunds = read("orders"), read("refunds")
    updated = {o["order_id"]: o["updated_at"] for o in orders}
    refund_order = {r["refund_id"]: r["order_id"] for r in refunds}
    rows: dict[str, list[tuple]] = {name: [] for name in SHOPIFY_DDL}
    for o in orders:
        journey: list = []
        for visit in ("first_visit", "last_visit"):
            medium = o[f"{visit}_medium"]
            tagged = medium is not None and medium not in _UNTAGGED_MEDIUMS
            journey += [
                o[f"{visit}_source"], None, o[f"{visit}_landing_page"], o[f"{visit}_referrer"], o[f"{visit}_at"],
                o[f"{visit}_source"] if tagged else None, medium if tagged else None,
                o[f"{visit}_campaign"] if tagged else None, o[f"{visit}_content"] if tagged else None, None, None,
            ]  # fmt: skip
        rows["orders"].append((
            _gid("Order", o["order_id"]), o["name"], o["created_at"], o["updated_at"], o["processed_at"],
            o["cancelled_at"], o["test"], o["financial_status"], o["email"], o["phone"], o["currency"],
            o["subtotal_price"], o["total_discounts"], o["total_price"], o["total_refunded"],
            _gid("Customer", o["customer_id"]), o["discount_code"], o["anonymous_id"], o["landing_page"],
            o["referring_site"], *journey,
        ))  # fmt: skip
    for i in read("order_line_items"):
        rows["order_line_items"].append((
            _gid("LineItem", i["line_item_id"]), _gid("Order", i["order_id"]), _gid("Product", i["product_id"]),
            _gid("ProductVariant", i["variant_id"]), i["sku"], i["title"], i["quantity"], i["price"],
            i["total_discount"], updated[i["order_id"]],
        ))  # fmt: skip
    for r in refunds:
        rows["refunds"].append((
            _gid("Refund", r["refund_id"]), _gid("Order", r["order_id"]), r["created_at"], r["note"], r["amount"],
            updated[r["order_id"]],
        ))  # fmt: skip
    for r in read("refund_line_items"):
        rows["refund_line_items"].append((
            _gid("RefundLineItem", r["refund_line_item_id"]), _gid("Refund", r["refund_id"]),
            _gid("Order", refund_order[r["refund_id"]]), _gid("LineItem", r["line_item_id"]), r["quantity"],
            r["subtotal"],
        ))  # fmt: skip
    for c in read("customers"):
        rows["customers"].append((
            _gid("Customer", c["customer_id"]), c["email"], c["phone"], c["first_name"], c["last_name"], c["state"],
            c["accepts_marketing"], c["created_at"], c["updated_at"], c["number_of_orders"], None, c["city"],
            c["country_code"],
        ))  # fmt: skip
    for p in read("products"):
        rows["products"].append((
            _gid("Product", p["product_id"]), p["title"], p["handle"], p["category"], p["vendor"], p["status"],
            "repeatable" if p["repeatable"] else "", p["created_at"], p["updated_at"],
        ))  # fmt: skip
    for v in read("product_variants"):
        rows["product_variants"].append((
            _gid("ProductVariant", v["variant_id"]), _gid("Product", v["product_id"]), v["sku"], v["title"],
            v["price"],
        ))  # fmt: skip
    return rows


def shopify_from_world(world: Path, settings: WarehouseSettings) -> dict[str, int]:
    """Write the `shopify` raw tables from the world's Parquet (as the loader role). Returns row counts."""
    rows = _shopify_rows(world)
    with psycopg.connect(settings.role_url("loader"), autocommit=True) as conn:
        for table, columns in SHOPIFY_DDL.items():
            names = [c.split()[0] for c in columns.split(", ")]
            conn.execute(f"drop table if exists shopify.{table}")
            conn.execute(f"create table shopify.{table} ({columns}, _dlt_load_id text, _dlt_id text)")
            copy = f"copy shopify.{table} ({', '.join(names)}, _dlt_load_id, _dlt_id) from stdin"
            with conn.cursor() as cur, cur.copy(copy) as out:
                for n, row in enumerate(rows[table]):
                    out.write_row((*row, "0", f"{table}-{n}"))
    return {table: len(r) for table, r in rows.items()}


def load_raw(world: Path, settings: WarehouseSettings) -> None:
    """Every raw schema of the contract, from one simulated shop."""
    from ingestion.events.load import load_landing_files
    from ingestion.ga4.pipeline import ga4_pipeline, run_ga4_pipeline
    from ingestion.ga4.settings import GA4Settings
    from ingestion.meta_ads.pipeline import meta_pipeline, run_meta_pipeline
    from ingestion.meta_ads.settings import MetaAdsSettings
    from ingestion.sandbox.emulators import running_emulator

    shopify_from_world(world, settings)
    load_landing_files(world / "landing" / "events", settings)
    with running_emulator("meta", world) as (_, env, _faults):
        run_meta_pipeline(
            MetaAdsSettings.from_env({**os.environ, **env}),
            pipeline=meta_pipeline(settings, pipeline_name="meta_ads_dbt_tests"),
        )
    with running_emulator("ga4", world) as (_, env, _faults):
        run_ga4_pipeline(
            GA4Settings.from_env({**os.environ, **env}),
            pipeline=ga4_pipeline(settings, pipeline_name="ga4_dbt_tests"),
        )
