"""Where the order history export is: a resource so runs can point the asset at another export."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.order_history.settings import OrderHistorySettings
from orchestration.defs.shared.sources import SourceResource


class OrderHistoryFiles(SourceResource):
    """ORDER_HISTORY_PATH: one CSV/Parquet file or a folder of them; unset = not configured."""

    ENV: ClassVar[dict[str, str]] = {"path": "ORDER_HISTORY_PATH"}
    SETTINGS: ClassVar[type] = OrderHistorySettings

    path: str | None = Field(default=None, description="ORDER_HISTORY_PATH: CSV/Parquet file or folder")


def order_history_resource() -> OrderHistoryFiles:
    return OrderHistoryFiles.from_environment()
