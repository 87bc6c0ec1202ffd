"""dbt CLI resource that runs dbt against the project's warehouse as the transformer role.

profiles.yml reads `DBT_PG_*` variables; this resource derives them from the `Warehouse` resource (so
WAREHOUSE_URL / WAREHOUSE_PORT decide, as for every other asset) and hands them to each dbt invocation,
instead of assets reading os.environ themselves.

Each invocation runs in a target dir of its own. dagster-dbt would seed it with the project's shared
`target/partial_parse.msgpack`, whichever process and warehouse wrote it last; this resource seeds it
with the parse state kept for its own environment (`target/partial_parse.<key>.msgpack`) and keeps what
each finished invocation wrote, so after one full parse (the warehouse moved) every later invocation,
of this process or the next, parses only what changed (orchestration/defs/transform/project.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from pydantic import Field

from ingestion.warehouse.pii import ensure_pii_key
from orchestration.defs.shared.resources import Warehouse, warehouse_resource
from orchestration.defs.transform.project import (
    PARTIAL_PARSE,
    dbt_parse_environment,
    dbt_project,
    environment,
    keep_parse_state,
    parse_state_file,
    parse_state_key,
    target_dir,
)

# dbt of this environment (not whichever `dbt` PATH finds), started through a wrapper that ties it to
# the run's process: a killed run never leaves dbt writing to the warehouse (orchestration/bin/dbt)
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
TIED_DBT = Path(__file__).resolve().parents[2] / "bin" / "dbt"


class _Invocation(NamedTuple):
    key: str  # parse_state_key of its environment
    process: subprocess.Popen
    target_path: Path


# invocations of this process whose parse state is not kept yet (kept once they have finished: a
# running dbt may still be writing its msgpack)
_unkept: list[_Invocation] = []


def keep_finished_parse_states() -> None:
    """Keep the parse state of every finished invocation of this process (also at exit: the state of
    a process's last dbt run serves the next process)."""
    for invocation in list(_unkept):
        if invocation.process.poll() is not None:
            keep_parse_state(invocation.target_path / PARTIAL_PARSE, invocation.key)
            _unkept.remove(invocation)


atexit.register(keep_finished_parse_states)


def invocation_target_path(context: Any | None) -> Path:
    """A fresh target dir, named as dagster-dbt names them (`<op>-<run id[:7]>-<uuid[:7]>`)."""
    unique = uuid.uuid4().hex[:7]
    if context is None:
        return target_dir() / unique
    return target_dir() / f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{unique}"


def seed_parse_state(key: str, target_path: Path) -> bool:
    """Put the parse state kept for environment `key` into an invocation's target dir (dagster-dbt
    then leaves it alone); False when there is none yet (dagster-dbt copies the shared one)."""
    kept = parse_state_file(key)
    if not kept.exists():
        return False
    target_path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, target_path / PARTIAL_PARSE)
    return True


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` pointed at the `Warehouse` resource as the transformer role."""

    warehouse: Warehouse
    role: str = Field(default="transformer", description="Warehouse role dbt connects as")

    def dbt_environment(self) -> dict[str, str]:
        """The warehouse as `role`, and which sources are configured (cross-source tests need both)."""
        return {
            **dbt_parse_environment(self.warehouse.settings(), role=self.role),
            "JOURNEY_DBT_EXECUTABLE": str(DBT_EXECUTABLE),
            "JOURNEY_DBT_PARENT_PID": str(os.getpid()),
        }

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        # the PII hash key is read by the models at query time: store the current PII_HASH_SALT first,
        # so a changed salt is what this run hashes with (ingestion/warehouse/pii.py)
        ensure_pii_key(self.warehouse.settings(), role=self.role)
        env = self.dbt_environment()
        key = parse_state_key(
            {k: env[k] for k in dbt_parse_environment(self.warehouse.settings(), self.role)}
        )
        keep_finished_parse_states()
        target_path = Path(kwargs.pop("target_path", None) or invocation_target_path(kwargs.get("context")))
        if not target_path.is_absolute():  # dagster-dbt resolves it against the project, as dbt does
            target_path = Path(self.project_dir) / target_path
        seed_parse_state(key, target_path)
        with environment(env):
            invocation = super().cli(args, target_path=target_path, **kwargs)
        _unkept.append(_Invocation(key, invocation.process, invocation.target_path))
        return invocation


def dbt_resource() -> WarehouseDbtCliResource:
    return WarehouseDbtCliResource(
        project_dir=dbt_project, warehouse=warehouse_resource(), dbt_executable=str(TIED_DBT)
    )
