"""Dagster wrapper of the Meta Ads dlt source (ingestion/meta_ads)."""

from orchestration.defs.meta_ads.assets import defs

__all__ = ["defs"]
