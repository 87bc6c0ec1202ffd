"""Dagster wrapper of the order history import (ingestion/order_history)."""

from orchestration.defs.order_history.assets import defs

__all__ = ["defs"]
