"""Resources shared by every domain: the warehouse, and where the local sandbox lives."""

from __future__ import annotations

import os

import dagster as dg
import psycopg
from pydantic import Field

from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse

# Concurrency pool of every warehouse-heavy step (loads, dbt, training); its limit is set in the
# instance's dagster.yaml (`concurrency.pools.default_limit`) so a 2-core machine is not overrun.
WAREHOUSE_POOL = "warehouse"


class Warehouse(dg.ConfigurableResource):
    """The Postgres warehouse. Embedded server by default; `url` (WAREHOUSE_URL) points at any Postgres."""

    url: str | None = Field(default=None, description="External warehouse URL; unset = embedded server")
    port: int = Field(default=55432, description="Port of the embedded server")

    def settings(self) -> WarehouseSettings:
        base = WarehouseSettings.from_env()
        return WarehouseSettings(url=self.url, port=self.port, data_dir=base.data_dir, database=base.database)

    def ensure_ready(self) -> None:
        """Start the embedded server when needed (idempotent) and make sure schemas/roles exist."""
        settings = self.settings()
        if settings.embedded:
            EmbeddedPostgres(settings).up()
        init_warehouse(settings)

    def connect(self, role: str = "transformer", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.settings().role_url(role), **kwargs)

    def role_url(self, role: str) -> str:
        return self.settings().role_url(role)

    def row_count(self, schema: str, table: str, role: str = "admin") -> int:
        with self.connect(role) as conn:
            return conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]


def warehouse_resource() -> Warehouse:
    """Build the resource from the environment at load time (EnvVar keeps secrets out of run config)."""
    kwargs: dict = {}
    if os.environ.get("WAREHOUSE_URL"):
        kwargs["url"] = dg.EnvVar("WAREHOUSE_URL")
    if os.environ.get("WAREHOUSE_PORT"):
        kwargs["port"] = dg.EnvVar.int("WAREHOUSE_PORT")
    return Warehouse(**kwargs)
