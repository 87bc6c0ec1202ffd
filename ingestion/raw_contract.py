"""The raw contract exists before a source's first load: every source's raw tables, empty, with their
exact columns and types, so every dbt model builds (empty where its inputs are) whatever subset of
sources a shop has.

One mechanism for all dlt sources: the tables come from the source's own dlt schema (its resources'
column hints), created by dlt itself through a separate `<source>_contract` pipeline whose resources
yield only `dlt.mark.materialize_table_schema()`; the source's real pipeline, its state and its
incremental cursors are never touched, and its first load finds the tables in place (dlt only adds
what is missing). The events loader, which is not dlt on its hot path, creates its tables with its
own DDL. Idempotent and cheap when everything exists (one catalog query); serialized by an advisory
lock so parallel Dagster steps on a fresh warehouse do not race.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt
import psycopg

from ingestion.common.pipelines import raw_pipeline
from ingestion.sources import SOURCES
from ingestion.warehouse import WarehouseSettings, connect

log = logging.getLogger(__name__)

LOCK_KEY = "journey.raw_contract"


def contract_tables(source_name: str) -> dict[str, dict[str, Any]]:
    """{table: dlt table schema} a dlt source lands (its selected resources)."""
    spec = next(s for s in SOURCES if s.name == source_name)
    if spec.contract is None:
        raise ValueError(f"{source_name} has no dlt contract source")
    source = spec.contract()
    tables = {}
    for resource in source.selected_resources.values():
        table = resource.compute_table_schema()
        tables[table["name"]] = table
    return tables


def _existing(conn: psycopg.Connection) -> set[tuple[str, str]]:
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables where table_schema = any(%s)",
        ([s.name for s in SOURCES],),
    ).fetchall()
    return {(schema, table) for schema, table in rows}


def _materialize(source_name: str, tables: dict[str, dict[str, Any]], warehouse: WarehouseSettings) -> None:
    def empty(table: dict[str, Any]):
        def rows():
            yield dlt.mark.materialize_table_schema()

        return dlt.resource(
            rows,
            name=table["name"],
            columns=table["columns"],
            write_disposition=table.get("write_disposition", "append"),
        )

    pipeline = raw_pipeline(source_name, f"{source_name}_contract", warehouse, progress=None)
    info = pipeline.run([empty(t) for t in tables.values()])
    info.raise_on_failed_jobs()


def ensure_raw_tables(warehouse: WarehouseSettings | None = None) -> list[str]:
    """Create the raw tables that do not exist yet; returns `schema.table` of those created."""
    from ingestion.events.load import ensure_tables as ensure_event_tables

    warehouse = warehouse or WarehouseSettings.from_env()
    created: list[str] = []
    with connect("loader", warehouse, autocommit=True) as lock:
        lock.execute("select pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
        try:
            existing = _existing(lock)
            for spec in SOURCES:
                if spec.contract is None:
                    if (spec.name, "events") not in existing:
                        with connect("loader", warehouse, autocommit=True) as conn:
                            ensure_event_tables(conn, spec.name)
                        created += [f"{spec.name}.{t}" for t in ("events", "rejected", "loaded_files")]
                    continue
                tables = contract_tables(spec.name)
                missing = [t for t in tables if (spec.name, t) not in existing]
                if missing:
                    _materialize(spec.name, tables, warehouse)
                    created += [f"{spec.name}.{t}" for t in missing]
        finally:
            lock.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
    if created:
        log.info("raw contract: created %s", ", ".join(created))
    return created
