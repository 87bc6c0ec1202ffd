"""The Postgres warehouse: where it is (settings), how the embedded one runs (server), what it holds (contract).

No Dagster imports here: ingestion code, tests and the `journey` CLI all use this package directly.
"""

from ingestion.warehouse.contract import RAW_SCHEMAS, ROLES, SCHEMAS, init_warehouse
from ingestion.warehouse.errors import WarehouseError
from ingestion.warehouse.server import EmbeddedPostgres
from ingestion.warehouse.settings import WarehouseSettings, connect

__all__ = [
    "RAW_SCHEMAS",
    "ROLES",
    "SCHEMAS",
    "EmbeddedPostgres",
    "WarehouseError",
    "WarehouseSettings",
    "connect",
    "init_warehouse",
]
