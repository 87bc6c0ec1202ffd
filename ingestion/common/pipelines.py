"""The dlt pipeline every vendor source runs in: Postgres as the loader role, the dataset named exactly
like the raw schema of the warehouse contract, pipeline state under `.local/dlt`.

dlt sends anonymous usage events to dltHub from every pipeline step unless told otherwise; this
project's loads make no outbound call that is not to a source. The default is set here, at import,
because dlt reads `.dlt/config.toml` relative to the current directory only (the repo root has one
too, for tools run there), while this module is imported by every process that builds a pipeline:
the CLI, Dagster's code server and run workers, tests. dlt resolves its runtime configuration once,
at the first pipeline, and this runs before that. `RUNTIME__DLTHUB_TELEMETRY=true` still opts in.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402  (after the telemetry default: see the docstring)
from dlt.common.pipeline import LoadInfo

from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.paths import local_dir

log = logging.getLogger(__name__)


def loader_credentials(warehouse: WarehouseSettings) -> dict[str, object]:
    """dlt postgres credentials for the loader role (its own password; the warehouse's connect timeout)."""
    parts = warehouse.parts("loader")
    return {
        "host": parts["host"],
        "port": parts["port"],
        "username": parts["user"],
        "password": parts["password"],
        "database": parts["database"],
        "connect_timeout": parts["connect_timeout"],
    }


def raw_pipeline(
    dataset: str, pipeline_name: str, warehouse: WarehouseSettings | None = None, progress: str | None = "log"
) -> dlt.Pipeline:
    """A pipeline landing `dataset` (= the raw schema) on the warehouse (default: from the environment)."""
    warehouse = warehouse or WarehouseSettings.from_env()
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.postgres(credentials=loader_credentials(warehouse)),
        dataset_name=dataset,
        pipelines_dir=str(local_dir() / "dlt"),
        **({"progress": progress} if progress else {}),
    )


def load(pipeline: dlt.Pipeline, source: object) -> LoadInfo:
    """Run one load and fail loudly: a failed job raises (dlt only records it otherwise)."""
    info = pipeline.run(source)
    info.raise_on_failed_jobs()
    log.info("%s: %s", pipeline.pipeline_name, info)
    return info
