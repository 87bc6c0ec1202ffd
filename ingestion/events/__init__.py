"""First-party tracked events: tracker.js (browser) -> collector (durable JSONL landing) -> loader (Postgres).

No Dagster imports here; `orchestration/defs/events/` wraps the loader as an asset.
"""
