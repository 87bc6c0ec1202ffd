"""The dlt pipeline every vendor source runs in: Postgres as the loader role, the dataset named exactly
like the raw schema of the warehouse contract, pipeline state under `.local/dlt`."""

from __future__ import annotations

import logging

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.paths import local_dir

log = logging.getLogger(__name__)


def loader_credentials(warehouse: WarehouseSettings) -> dict[str, object]:
    """dlt postgres credentials for the loader role. dlt insists on a password; the embedded server
    trusts loopback logins, so a placeholder is sent there (and ignored by the server)."""
    parts = warehouse.parts("loader")
    password = parts["password"] or ("embedded-trust-auth" if warehouse.embedded else None)
    return {
        "host": parts["host"],
        "port": parts["port"],
        "username": parts["user"],
        "password": password,
        "database": parts["database"],
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
