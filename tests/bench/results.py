"""`.local/bench/results.json`: every benchmark merges its figures here."""

from __future__ import annotations

import json
from pathlib import Path

from ingestion.warehouse.paths import local_dir


def results_path() -> Path:
    return local_dir() / "bench" / "results.json"


def record(figures: dict) -> dict:
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(figures)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
