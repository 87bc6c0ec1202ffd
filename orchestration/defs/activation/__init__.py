"""Dagster wrapper of ingestion/activation: segments evaluated after the ML scores, then synced to Meta
Custom Audiences and Shopify customer tags."""

from orchestration.defs.activation.assets import defs

__all__ = ["defs"]
