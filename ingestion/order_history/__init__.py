"""Order history exported from another platform (CSV/Parquet) -> `order_history` schema (orders and
their line items), runnable without Dagster and without any Shopify credentials."""

from ingestion.order_history.pipeline import order_history_pipeline, run_order_history_pipeline
from ingestion.order_history.reader import OrderHistoryError, read_order_history
from ingestion.order_history.settings import OrderHistorySettings
from ingestion.order_history.source import order_history_source

__all__ = [
    "OrderHistoryError",
    "OrderHistorySettings",
    "order_history_pipeline",
    "order_history_source",
    "read_order_history",
    "run_order_history_pipeline",
]
