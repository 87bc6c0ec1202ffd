"""Google Ads API -> `google_ads` schema (campaigns, ad_groups, campaign_daily, ad_group_daily), runnable
without Dagster."""

from ingestion.google_ads.pipeline import google_ads_pipeline, run_google_ads_pipeline
from ingestion.google_ads.settings import GoogleAdsSettings
from ingestion.google_ads.source import google_ads_source

__all__ = ["GoogleAdsSettings", "google_ads_pipeline", "google_ads_source", "run_google_ads_pipeline"]
