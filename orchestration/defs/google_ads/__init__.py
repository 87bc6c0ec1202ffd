"""Dagster wrapper of the Google Ads dlt source (ingestion/google_ads)."""

from orchestration.defs.google_ads.assets import defs

__all__ = ["defs"]
