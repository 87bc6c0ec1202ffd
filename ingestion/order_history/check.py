"""`journey sources check order_history`: the export exists and every file in it reads and validates
(the same reader the load uses, so a file that passes here loads)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ingestion.common.checks import SourceCheck, run_check
from ingestion.order_history.reader import history_files, read_order_history
from ingestion.order_history.settings import OrderHistorySettings


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = OrderHistorySettings.status(env)
    path = env.get("ORDER_HISTORY_PATH") or ""

    def files() -> str:
        # raises for a missing path and for a folder without an export file, as the load does
        found = history_files(path)
        return f"{len(found)} file(s) under {path}"

    def validate() -> str:
        history = read_order_history(path)
        return f"{len(history.orders):,} orders, {len(history.order_items):,} line items valid"

    return run_check(
        "order_history", [("files", files), ("validate", validate)], status.configured, status.reason
    )
