"""Landing files -> `events.events` / `events.rejected` / `events.loaded_files` (see loader.py)."""

from ingestion.events.load.loader import LoadResult, ensure_tables, load_landing_files

__all__ = ["LoadResult", "ensure_tables", "load_landing_files"]
