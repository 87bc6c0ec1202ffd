"""`[order_history, orders]` and `[order_history, order_items]`: the order history export as Dagster
assets, runnable with only ORDER_HISTORY_PATH (no Shopify credentials). Each materialization re-reads
the export and merges it (orders on `order_id`, lines replaced per order), so re-running is a no-op
and a corrected file replaces what it corrects. A malformed file fails the step naming file and line,
and loads nothing. Without ORDER_HISTORY_PATH the assets report "not configured".
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.order_history import OrderHistoryError, order_history_pipeline, order_history_source
from ingestion.order_history.pipeline import DATASET
from ingestion.order_history.source import TABLE_DESCRIPTIONS
from orchestration.defs.meta_ads.assets import RawTableTranslator
from orchestration.defs.order_history.resources import OrderHistoryFiles, order_history_resource
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import load_dlt_source

GROUP = "order_history"


@dlt_assets(
    dlt_source=order_history_source(path=None),
    dlt_pipeline=order_history_pipeline(),
    name="order_history",
    pool=WAREHOUSE_POOL,
    dagster_dlt_translator=RawTableTranslator(DATASET, GROUP, TABLE_DESCRIPTIONS),
)
def order_history_assets(
    context: dg.AssetExecutionContext,
    order_history_dlt: DagsterDltResource,
    warehouse: Warehouse,
    order_history_files: OrderHistoryFiles,
) -> Iterator[Any]:
    """Import the order history export (orders and their line items) into the `order_history` schema."""
    try:
        yield from load_dlt_source(
            context, warehouse, order_history_files, order_history_dlt,
            lambda settings: order_history_source(**settings.source_kwargs()), order_history_pipeline, DATASET,
        )  # fmt: skip
    except Exception as exc:
        # dlt wraps the reader's error in its pipeline exceptions; surface the file:line reason itself
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OrderHistoryError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise dg.Failure(str(cause), metadata={"file": cause.file, "line": cause.line or 0}) from exc


defs = dg.Definitions(
    assets=[order_history_assets],
    resources={"order_history_dlt": DagsterDltResource(), "order_history_files": order_history_resource()},
)
