"""Run the order history import into the warehouse's `order_history` schema as the loader role."""

from __future__ import annotations

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.order_history.settings import OrderHistorySettings
from ingestion.order_history.source import order_history_source
from ingestion.warehouse import WarehouseSettings

PIPELINE_NAME = "order_history"
DATASET = "order_history"


def order_history_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    return raw_pipeline(DATASET, pipeline_name, warehouse, progress)


def run_order_history_pipeline(
    settings: OrderHistorySettings | None = None, *, pipeline: dlt.Pipeline | None = None
) -> LoadInfo:
    """Load (merge) every order and line item of the export; re-running with the same files is a no-op."""
    settings = settings or OrderHistorySettings.from_env()
    pipeline = pipeline or order_history_pipeline()
    return load(pipeline, order_history_source(**settings.source_kwargs()))
