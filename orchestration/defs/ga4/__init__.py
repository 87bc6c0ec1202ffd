"""Dagster wrapper of the GA4 dlt source (ingestion/ga4)."""

from orchestration.defs.ga4.assets import defs

__all__ = ["defs"]
