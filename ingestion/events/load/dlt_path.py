"""The events load as a plain dlt pipeline (Arrow tables -> dlt -> Postgres), kept for comparison.

Not the production path: the benchmark (tests/bench/events_ingest.py) runs it on the same rows as the
COPY + SQL loader so the choice in loader.py stays measured, not assumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dlt
import orjson
import pyarrow as pa

from ingestion.common.pipelines import loader_credentials
from ingestion.events.landing import closed_landing_files
from ingestion.warehouse.settings import WarehouseSettings

_PATHS = {
    "page_url": ("context", "page", "url"), "page_path": ("context", "page", "path"),
    "page_referrer": ("context", "page", "referrer"), "page_title": ("context", "page", "title"),
    "utm_source": ("context", "campaign", "source"), "utm_medium": ("context", "campaign", "medium"),
    "utm_campaign": ("context", "campaign", "name"), "utm_id": ("context", "campaign", "id"),
    "utm_content": ("context", "campaign", "content"), "utm_term": ("context", "campaign", "term"),
    "fbclid": ("context", "clickIds", "fbclid"), "gclid": ("context", "clickIds", "gclid"),
    "device_type": ("context", "device", "type"), "user_agent": ("context", "userAgent"),
    "product_id": ("properties", "product_id"), "order_id": ("properties", "order_id"),
}  # fmt: skip
_TOP = {"message_id": "messageId", "type": "type", "event": "event", "anonymous_id": "anonymousId",
        "user_id": "userId", "timestamp": "timestamp", "sent_at": "sentAt", "received_at": "receivedAt"}  # fmt: skip


def _dig(event: dict, path: tuple[str, ...]) -> object:
    value: object = event
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return None if value is None else str(value)


def _table(events: list[dict], landing_file: str) -> pa.Table:
    cols: dict[str, list] = {c: [e.get(k) for e in events] for c, k in _TOP.items()}
    for c, path in _PATHS.items():
        cols[c] = [_dig(e, path) for e in events]
    cols["revenue"] = [(e.get("properties") or {}).get("revenue") for e in events]
    cols["properties"] = [orjson.dumps(e.get("properties")).decode() for e in events]
    cols["context"] = [orjson.dumps(e.get("context")).decode() for e in events]
    cols["landing_file"] = [landing_file] * len(events)
    table = pa.table(
        {k: pa.array(v, type=pa.float64() if k == "revenue" else pa.string()) for k, v in cols.items()}
    )
    for ts in ("timestamp", "sent_at", "received_at"):
        i = table.schema.get_field_index(ts)
        table = table.set_column(i, ts, table[ts].cast(pa.timestamp("ms", tz="UTC")))
    return table


@dlt.source(name="events")
def events_source(landing_dir: Path) -> Iterator:
    """One `events` resource yielding an Arrow table per landing file (valid JSON lines only)."""

    @dlt.resource(name="events", primary_key="message_id", write_disposition="merge",
                  columns={"properties": {"data_type": "json"}, "context": {"data_type": "json"}})  # fmt: skip
    def events() -> Iterator[pa.Table]:
        for path in closed_landing_files(landing_dir):
            rel = path.relative_to(landing_dir).as_posix()
            yield _table([orjson.loads(line) for line in path.read_bytes().splitlines() if line], rel)

    return events


def run_dlt_pipeline(
    landing_dir: Path, settings: WarehouseSettings, dataset: str, pipelines_dir: Path
) -> int:
    """Load with dlt (Arrow tables, merge on message_id) as the loader role; returns rows loaded."""
    pipeline = dlt.pipeline(
        pipeline_name=f"events_{dataset}",
        # the loader's own password and connect timeout; importing pipelines also turns telemetry off
        destination=dlt.destinations.postgres(credentials=loader_credentials(settings)),
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir),
    )
    pipeline.run(events_source(landing_dir), loader_file_format="csv")
    with pipeline.sql_client() as client:
        return client.execute_sql(f"select count(*) from {dataset}.events")[0][0]
