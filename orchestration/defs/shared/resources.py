"""Resources shared by every domain: the warehouse, and where the local sandbox lives."""

from __future__ import annotations

import os

import dagster as dg
import psycopg
from pydantic import Field

from ingestion.raw_contract import ensure_raw_tables
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, connect, init_warehouse

# Concurrency pool of every warehouse-heavy step (loads, dbt, training); its limit is set in the
# instance's dagster.yaml (`concurrency.pools.default_limit`) so a 2-core machine is not overrun.
WAREHOUSE_POOL = "warehouse"


class Warehouse(dg.ConfigurableResource):
    """The Postgres warehouse. Embedded server by default; `url` (WAREHOUSE_URL) points at any Postgres."""

    url: str | None = Field(
        default=None, description="External warehouse URL; unset = WAREHOUSE_URL at run time, else embedded"
    )
    port: int | None = Field(
        default=None,
        description="Port of the embedded server; unset = WAREHOUSE_PORT at run time, else 55432",
    )

    def settings(self) -> WarehouseSettings:
        # unset fields are read from the environment when used, not when the code location was
        # imported: a process that sets WAREHOUSE_* after importing the definitions (tests, the
        # demo) still gets the warehouse it points at
        base = WarehouseSettings.from_env()
        return WarehouseSettings(
            url=self.url or base.url,
            port=self.port or base.port,
            data_dir=base.data_dir,
            database=base.database,
        )

    def ensure_ready(self) -> None:
        """Start the embedded server when needed (idempotent), make sure schemas/roles exist and every
        source's raw tables exist (empty before its first load: the raw contract)."""
        settings = self.settings()
        if settings.embedded:
            EmbeddedPostgres(settings).up()
        init_warehouse(settings)
        ensure_raw_tables(settings)

    def connect(self, role: str = "transformer", **kwargs) -> psycopg.Connection:
        return connect(role, self.settings(), **kwargs)

    def role_url(self, role: str) -> str:
        return self.settings().role_url(role)

    def row_count(self, schema: str, table: str, role: str = "admin") -> int:
        with self.connect(role) as conn:
            return conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]

    def table_rows(self, schema: str, table: str) -> int:
        """Rows in `schema.table`, 0 when the table does not exist (yet)."""
        relation = f'"{schema}"."{table}"'
        with self.connect("admin") as conn:
            exists = conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]
            return conn.execute(f"select count(*) from {relation}").fetchone()[0] if exists else 0


def warehouse_resource() -> Warehouse:
    """Build the resource from the environment at load time (EnvVar keeps secrets out of run config)."""
    kwargs: dict = {}
    if os.environ.get("WAREHOUSE_URL"):
        kwargs["url"] = dg.EnvVar("WAREHOUSE_URL")
    if os.environ.get("WAREHOUSE_PORT"):
        kwargs["port"] = dg.EnvVar.int("WAREHOUSE_PORT")
    return Warehouse(**kwargs)


def with_table_row_counts(events, warehouse: Warehouse, dataset: str, extra: dict | None = None):
    """dlt asset events with `dagster/row_count` = rows now in `<dataset>.<table>` (0 before dlt has
    created it). Not dagster-dlt's `.fetch_row_count()`: it raises for a table that got no rows in a
    run (a quiet incremental night), and inside a partitioned run it reports the run's rows instead."""
    for event in events:
        rows = warehouse.table_rows(dataset, event.asset_key.path[-1])
        yield event._replace(
            metadata={
                **(event.metadata or {}),
                **(extra or {}),
                "dagster/row_count": dg.MetadataValue.int(rows),
            }
        )
