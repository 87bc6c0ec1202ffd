"""Copies of the dbt-built tiny database on the session server, for shops with fewer sources.

Every source is optional: a warehouse may hold every mart but with no rows (or only some filled).
`copy_database(..., schema_only=True)` is exactly that shape — the same relations, columns and types
as a real dbt build, no rows; a full copy can then have single marts emptied ("no tracked events").
The `ml` and `insights` schemas are left out, so each copy starts with no model, no run and no
insight, and the dbt tier's own database is never touched.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess

import psycopg

from ingestion.warehouse import WarehouseSettings, init_warehouse
from ingestion.warehouse.server import postgres_bin_dir

PYTHON_SCHEMAS = ("ml", "insights")


def _url_without_password(settings: WarehouseSettings) -> str:
    p = settings.parts("admin")
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['database']}"


def copy_database(source: WarehouseSettings, name: str, *, schema_only: bool) -> WarehouseSettings:
    """A fresh database `name` on `source`'s server holding `source`'s relations (and rows unless
    `schema_only`), owners and grants, with empty `ml`/`insights` schemas; its settings."""
    target = dataclasses.replace(source, database=name)
    with psycopg.connect(source.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    bin_dir = postgres_bin_dir()
    env = {**os.environ, "PGPASSWORD": source.role_password("admin") or ""}  # never on a command line
    dump = subprocess.run(
        [
            str(bin_dir / "pg_dump"),
            *(["--schema-only"] if schema_only else []),
            *(f"--exclude-schema={s}" for s in PYTHON_SCHEMAS),
            _url_without_password(source),
        ],
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", _url_without_password(target)],
        env=env,
        input=dump.stdout,
        capture_output=True,
        check=True,
        timeout=300,
    )
    init_warehouse(target)  # the ml/insights schemas and the contract's grants
    return target


def empty_tables(settings: WarehouseSettings, *tables: str) -> None:
    """Truncate `schema.table`s of a copy (what a shop without that source builds)."""
    with psycopg.connect(settings.role_url("admin"), autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(tables)}")


def row_count(settings: WarehouseSettings, table: str) -> int:
    with psycopg.connect(settings.role_url("admin")) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]
