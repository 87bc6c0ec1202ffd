"""Dagster wrapper of the events loader (ingestion/events/load)."""

from orchestration.defs.events.assets import defs

__all__ = ["defs"]
