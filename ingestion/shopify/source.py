"""dlt source for the Shopify GraphQL Admin API: orders (+ line items, refunds, refund line items),
customers and products (+ variants). (Order history from another platform is a source of its own:
ingestion/order_history.)

Incremental: each feed asks for `query: "updated_at:>='<cursor>'"` sorted by `UPDATED_AT`, with the
cursor (`dlt.sources.incremental("updatedAt")`) held back by `lookback_minutes` so rows whose update
reached Shopify's search index late are read again; merge makes the re-read harmless.

One API read feeds several tables: the orders feed is a hidden resource and `orders`,
`order_line_items`, `refunds`, `refund_line_items` are transformers of it (dlt evaluates the feed
once and hands every page to each). When an order changes (a refund, a cancellation), Shopify returns
the whole order again; the child tables merge with the `delete-insert` strategy on `merge_key =
order_id`, so all child rows of a re-read order are replaced by its current ones: no duplicates, no
stale rows. Products and their variants work the same way (`merge_key = product_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.shopify import shapes
from ingestion.shopify.client import ShopifyGraphQLClient
from ingestion.shopify.settings import DEFAULT_API_VERSION, DEFAULT_LOOKBACK_MINUTES, DEFAULT_START_DATE

log = logging.getLogger(__name__)

ORDER_TABLES = ("orders", "order_line_items", "refunds", "refund_line_items")
PRODUCT_TABLES = ("products", "product_variants")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPLACE_CHILDREN = {"disposition": "merge", "strategy": "delete-insert"}
# what each table holds, one line per table (the Dagster asset descriptions; docs/raw_contract.md has
# the columns)
TABLE_DESCRIPTIONS = {
    "orders": "Shopify orders, one row per order (gid `id`), with totals, financial status, the buyer's "
    "email and phone (clear text: PII) and Shopify's first/last visit journey (UTMs, landing page)",
    "order_line_items": "Line items of each Shopify order: product, variant, SKU, quantity, unit price and "
    "discount; replaced whole when the order is read again",
    "refunds": "Refunds of each Shopify order: when, note and amount refunded",
    "refund_line_items": "Lines of each refund: which order line, quantity and subtotal refunded",
    "customers": "Shopify customers: email, phone, names, city (clear text: PII), marketing consent, "
    "order count and amount spent",
    "products": "Shopify product catalog: title, handle, type (the category), vendor, status and tags "
    "(`repeatable` marks consumables)",
    "product_variants": "Variants of each Shopify product: SKU, title and price",
}


def _initial(start_date: str) -> datetime:
    ts = datetime.fromisoformat(start_date.replace("Z", "+00:00"))
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def _search(since: datetime) -> str:
    """Shopify search syntax for "updated since" (second precision, like Shopify's timestamps)."""
    return f"updated_at:>='{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def _with_cursor(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parse `updatedAt` once into `_cursor` (a datetime) so the incremental compares instants, not
    strings (`…:00Z` vs `…:00.5Z` sort wrongly as text)."""
    for node in page:
        node["_cursor"] = shapes.ts(node["updatedAt"])
    return page


def _pages(nodes: Any) -> list[dict[str, Any]]:
    return nodes if isinstance(nodes, list) else [nodes]


@dlt.source(name="shopify", max_table_nesting=0)
def shopify_source(
    api_url: str = dlt.config.value,
    access_token: str = "",
    client_id: str = "",
    client_secret: str = "",
    api_version: str = DEFAULT_API_VERSION,
    start_date: str = DEFAULT_START_DATE,
    lookback_minutes: float = DEFAULT_LOOKBACK_MINUTES,
    page_size: int = 250,
    nested_page_size: int = 5,
    max_attempts: int = 6,
    backoff: float = 1.0,
    max_wait: float = 60.0,
    timeout: float = 60.0,
) -> list[DltResource]:
    """One shop, authenticated by `client_id` + `client_secret` (a Dev Dashboard app: tokens minted by
    the client-credentials grant) or a legacy custom app's `access_token`. The first run backfills
    orders from `start_date` (customers and products whole); later runs read what changed since,
    `lookback_minutes` early."""
    client = ShopifyGraphQLClient(
        api_url=api_url,
        api_version=api_version,
        access_token=access_token,
        client_id=client_id,
        client_secret=client_secret,
        page_size=page_size,
        nested_page_size=nested_page_size,
        max_attempts=max_attempts,
        backoff=backoff,
        max_wait=max_wait,
        timeout=timeout,
    )
    initial = _initial(start_date)

    def cursor(path: str, since: datetime = initial) -> dlt.sources.incremental[datetime]:
        # lag: every run re-reads `lookback_minutes` before the last cursor (rows indexed late);
        # primary_key=(): rows on the boundary are re-emitted, not de-duplicated (merge handles them)
        return dlt.sources.incremental(path, initial_value=since, lag=lookback_minutes * 60, primary_key=())

    def feed(name: str, fetch, since: datetime) -> DltResource:
        feed_cursor = cursor("_cursor", since)

        def nodes(
            updated_at: dlt.sources.incremental[datetime] = feed_cursor,
        ) -> Iterator[list[dict[str, Any]]]:
            search = _search(updated_at.start_value)
            log.info("shopify: %s %s", name, search)
            for page in fetch(search):
                yield _with_cursor(page)

        return dlt.resource(nodes, name=f"{name}_feed", selected=False)

    # the start date bounds the order backfill only: the catalog and the customer list load whole
    order_feed = feed("orders", client.orders, initial)
    product_feed = feed("products", client.products, EPOCH)

    def child(parent: DltResource, table: str, rows, **hints: Any) -> DltResource:
        def transform(nodes: Any) -> Iterator[list[dict[str, Any]]]:
            out = [row for node in _pages(nodes) for row in rows(node)]
            if out:
                yield out

        return dlt.transformer(
            transform, data_from=parent, name=table, columns=shapes.COLUMNS[table], **hints
        )

    def one(fn):
        return lambda node: [fn(node)]

    orders = child(order_feed, "orders", one(shapes.order_row), write_disposition="merge", primary_key="id")
    line_items = child(order_feed, "order_line_items", shapes.line_item_rows,
                       write_disposition=REPLACE_CHILDREN, primary_key="id", merge_key="order_id")  # fmt: skip
    refunds = child(order_feed, "refunds", shapes.refund_rows,
                    write_disposition=REPLACE_CHILDREN, primary_key="id", merge_key="order_id")  # fmt: skip
    refund_lines = child(order_feed, "refund_line_items", shapes.refund_line_item_rows,
                         write_disposition=REPLACE_CHILDREN, primary_key="id", merge_key="order_id")  # fmt: skip
    products = child(
        product_feed, "products", one(shapes.product_row), write_disposition="merge", primary_key="id"
    )
    variants = child(product_feed, "product_variants", shapes.variant_rows,
                     write_disposition=REPLACE_CHILDREN, primary_key="id", merge_key="product_id")  # fmt: skip

    customer_cursor = cursor("updated_at", EPOCH)

    @dlt.resource(name="customers", write_disposition="merge", primary_key="id",
                  columns=shapes.COLUMNS["customers"])  # fmt: skip
    def customers(
        updated_at: dlt.sources.incremental[datetime] = customer_cursor,
    ) -> Iterator[list[dict[str, Any]]]:
        search = _search(updated_at.start_value)
        log.info("shopify: customers %s", search)
        for page in client.customers(search):
            yield [shapes.customer_row(c) for c in page]

    return [orders, line_items, refunds, refund_lines, customers, products, variants]
