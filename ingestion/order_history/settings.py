"""Order history settings from the environment: only `ORDER_HISTORY_PATH`, no credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestion.common.sources import SourceStatus

SETTINGS = ("ORDER_HISTORY_PATH",)
SUFFIXES = (".csv", ".parquet")  # the export files a folder is searched for (reader.py)


@dataclass(frozen=True)
class OrderHistorySettings:
    """Where the export lives: one CSV/Parquet file or a directory of them (see reader.py for columns)."""

    path: str

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when ORDER_HISTORY_PATH is set; a path that does not exist, or a folder without
        an export file, is still configured (the user asked for it), and the load then fails naming
        the path."""
        env = os.environ if env is None else env
        path = env.get("ORDER_HISTORY_PATH") or ""
        if not path:
            return SourceStatus(
                "order_history", False, "set ORDER_HISTORY_PATH (a CSV/Parquet file or folder)"
            )
        where = Path(path)
        if not where.exists():
            return SourceStatus(
                "order_history", True, f"ORDER_HISTORY_PATH={path} does not exist: the load will fail"
            )
        if where.is_dir() and not any(p.suffix.lower() in SUFFIXES for p in where.rglob("*") if p.is_file()):
            return SourceStatus(
                "order_history", True,
                f"ORDER_HISTORY_PATH={path} holds no .csv or .parquet file: the load will fail",
            )  # fmt: skip
        return SourceStatus("order_history", True, f"ORDER_HISTORY_PATH={path}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str) -> OrderHistorySettings:
        env = os.environ if env is None else env
        path = overrides.get("path") or env.get("ORDER_HISTORY_PATH")
        if not path:
            raise KeyError("order history: set ORDER_HISTORY_PATH (see docs/sources.md#order-history)")
        return cls(path=path)

    def source_kwargs(self) -> dict[str, str]:
        return {"path": self.path}
