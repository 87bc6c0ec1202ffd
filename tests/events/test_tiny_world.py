"""The simulated shop's landing files load cleanly, and loading them twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ingestion.events.load import load_landing_files
from ingestion.warehouse import WarehouseSettings
from orchestration.defs.events.assets import (
    EVENTS_KEY,
    LOADED_FILES_KEY,
    REJECTED_KEY,
    events_landing_load,
)
from orchestration.defs.events.resources import EventsLanding
from orchestration.defs.shared.resources import Warehouse
from tests.events.conftest import scalar


def test_tiny_world_loads_once(tiny_world: Path, warehouse: WarehouseSettings, events_schema: str) -> None:
    landing = tiny_world / "landing" / "events"
    lines = sum(p.read_bytes().count(b"\n") for p in landing.rglob("*.jsonl"))
    assert lines > 1000
    first = load_landing_files(landing, warehouse, schema=events_schema)
    assert first.lines == lines
    assert first.rows_rejected == 0, "the generator writes only valid events"
    count = scalar(warehouse, f"select count(*) from {events_schema}.events")
    assert count == first.rows_loaded
    second = load_landing_files(landing, warehouse, schema=events_schema)
    assert (second.files, second.rows_loaded, second.files_skipped) == (0, 0, first.files)
    assert scalar(warehouse, f"select count(*) from {events_schema}.events") == count


def test_dagster_asset_reports_the_load(tiny_world: Path, warehouse: WarehouseSettings) -> None:
    """The `[events, events]` asset in the real `events` schema, as `make demo` runs it."""
    resources = {
        "warehouse": Warehouse(port=warehouse.port),
        "events_landing": EventsLanding(landing_dir=str(tiny_world / "landing" / "events")),
    }
    result = dg.materialize([events_landing_load], resources=resources)
    assert result.success
    events_meta = next(
        m.metadata
        for m in result.asset_materializations_for_node("events_landing_load")
        if m.asset_key == EVENTS_KEY
    )
    keys = {m.asset_key for m in result.asset_materializations_for_node("events_landing_load")}
    assert keys == {EVENTS_KEY, REJECTED_KEY, LOADED_FILES_KEY}
    total = scalar(warehouse, "select count(*) from events.events")
    assert events_meta["dagster/row_count"].value == total > 0
    consumed = events_meta["files_consumed"].value + events_meta["files_already_loaded"].value
    assert consumed == len(list((tiny_world / "landing" / "events").rglob("*.jsonl")))
    again = dg.materialize([events_landing_load], resources=resources)
    meta = next(
        m.metadata
        for m in again.asset_materializations_for_node("events_landing_load")
        if m.asset_key == EVENTS_KEY
    )
    assert meta["files_consumed"].value == 0 and meta["rows_loaded"].value == 0
    assert scalar(warehouse, "select count(*) from events.events") == total
