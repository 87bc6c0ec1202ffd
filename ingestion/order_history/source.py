"""dlt source of the order history export: `orders` (merge on `order_id`) and `order_items` (one row per
line, replaced per order: `delete-insert` on `merge_key = order_id`, so a re-imported order keeps
exactly its current lines). The files are read and validated once per run, before anything is yielded.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.order_history.reader import OrderHistory, read_order_history

log = logging.getLogger(__name__)

T, TS, NUM, INT = "text", "timestamp", "decimal", "bigint"


def _cols(spec: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": kind, "nullable": True} for name, kind in spec}


COLUMNS = {
    "orders": _cols([
        ("order_id", T), ("customer_id", T), ("email", T), ("ordered_at", TS), ("amount", NUM),
        ("currency", T), ("source_file", T), ("source_line", INT),
    ]),
    "order_items": _cols([
        ("order_id", T), ("line_number", INT), ("product_id", T), ("sku", T), ("title", T),
        ("quantity", INT), ("price", NUM), ("source_file", T), ("source_line", INT),
    ]),
}  # fmt: skip
TABLES = tuple(COLUMNS)
# what each table holds (the Dagster asset descriptions; docs/raw_contract.md has the columns)
TABLE_DESCRIPTIONS = {
    "orders": "Orders of the order history export, one row per order: customer id as in the file (may be "
    "an email), email (clear text: PII), time, amount and currency, with the file and line it came from",
    "order_items": "Line items of the order history export: product or SKU, title, quantity and unit "
    "price, one row per line of each order",
}


@dlt.source(name="order_history", max_table_nesting=0)
def order_history_source(path: str | None = None) -> list[DltResource]:
    """The export at `path` (file or folder). `path=None` only describes the tables (definitions)."""

    @functools.cache
    def history() -> OrderHistory:
        if path is None:
            return OrderHistory()
        read = read_order_history(path)  # raises OrderHistoryError naming file and line
        log.info(
            "order_history: %d orders, %d line items from %s", len(read.orders), len(read.order_items), path
        )
        return read

    @dlt.resource(name="orders", write_disposition="merge", primary_key="order_id", columns=COLUMNS["orders"])
    def orders() -> Iterator[list[dict[str, Any]]]:
        if history().orders:
            yield history().orders

    @dlt.resource(
        name="order_items",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=("order_id", "line_number"),
        merge_key="order_id",
        columns=COLUMNS["order_items"],
    )
    def order_items() -> Iterator[list[dict[str, Any]]]:
        if history().order_items:
            yield history().order_items

    return [orders, order_items]
