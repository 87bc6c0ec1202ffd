"""GA4 Data API -> `ga4` schema (`daily_traffic`, `report_metadata`), runnable without Dagster."""

from ingestion.ga4.pipeline import ga4_pipeline, run_ga4_pipeline
from ingestion.ga4.settings import GA4Settings
from ingestion.ga4.source import ga4_source

__all__ = ["GA4Settings", "ga4_pipeline", "ga4_source", "run_ga4_pipeline"]
