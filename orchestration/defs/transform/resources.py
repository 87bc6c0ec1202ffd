"""dbt CLI resource that runs dbt against the project's warehouse as the transformer role.

profiles.yml reads `DBT_PG_*` variables; this resource derives them from the `Warehouse` resource (so
WAREHOUSE_URL / WAREHOUSE_PORT decide, as for every other asset) and hands them to each dbt invocation,
instead of assets reading os.environ themselves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from pydantic import Field

from ingestion.sources import dbt_sources_env
from ingestion.warehouse.pii import ensure_pii_key
from ingestion.warehouse.settings import dbt_env
from orchestration.defs.shared.resources import Warehouse, warehouse_resource
from orchestration.defs.transform.project import dbt_project

# dbt of this environment (not whichever `dbt` PATH finds), started through a wrapper that ties it to
# the run's process: a killed run never leaves dbt writing to the warehouse (orchestration/bin/dbt)
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
TIED_DBT = Path(__file__).resolve().parents[2] / "bin" / "dbt"


@contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    """dagster-dbt builds the subprocess env (and renders the profile in-process) from os.environ."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` pointed at the `Warehouse` resource as the transformer role."""

    warehouse: Warehouse
    role: str = Field(default="transformer", description="Warehouse role dbt connects as")

    def dbt_environment(self) -> dict[str, str]:
        """The warehouse as `role`, and which sources are configured (cross-source tests need both)."""
        return {
            **dbt_env(self.warehouse.settings(), role=self.role),
            **dbt_sources_env(),
            "JOURNEY_DBT_EXECUTABLE": str(DBT_EXECUTABLE),
            "JOURNEY_DBT_PARENT_PID": str(os.getpid()),
        }

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        # the PII hash key is read by the models at query time: store the current PII_HASH_SALT first,
        # so a changed salt is what this run hashes with (ingestion/warehouse/pii.py)
        ensure_pii_key(self.warehouse.settings(), role=self.role)
        with _environment(self.dbt_environment()):
            return super().cli(args, **kwargs)


def dbt_resource() -> WarehouseDbtCliResource:
    return WarehouseDbtCliResource(
        project_dir=dbt_project, warehouse=warehouse_resource(), dbt_executable=str(TIED_DBT)
    )
