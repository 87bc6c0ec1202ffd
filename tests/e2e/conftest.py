"""Tier 5 fixture: the whole nightly job on the tiny shop, once per test run, into the throwaway warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from ingestion.warehouse import WarehouseSettings


def run_nightly(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs
    from orchestration.defs.insights.partitions import nightly_partition_key

    job = defs.resolve_job_def("nightly_job")
    return job.execute_in_process(
        instance=instance, raise_on_error=False, partition_key=nightly_partition_key()
    )


@pytest.fixture(scope="session")
def nightly(warehouse: WarehouseSettings, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory):
    """Runs nightly_job twice (the second run must change nothing) and yields both results."""
    from ingestion.sandbox.emulators import running_emulators
    from ingestion.sandbox.shop import load_world

    world = load_world(tiny_world)
    saved = dict(os.environ)
    os.environ["JOURNEY_SANDBOX_SIZE"] = "tiny"
    os.environ["JOURNEY_AS_OF"] = world["end_date"]
    os.environ.pop("OPENAI_API_KEY", None)
    home = tmp_path_factory.mktemp("dagster_home")
    try:
        with running_emulators(tiny_world) as env, dg.instance_for_test(temp_dir=str(home)) as instance:
            os.environ.update(env)
            first = run_nightly(instance)
            counts_after_first = table_counts(warehouse)
            second = run_nightly(instance)
            counts_after_second = table_counts(warehouse)
            yield {
                "first": first,
                "second": second,
                "counts_first": counts_after_first,
                "counts_second": counts_after_second,
                "world": world,
                "instance": instance,
            }
    finally:
        os.environ.clear()
        os.environ.update(saved)


def table_counts(settings: WarehouseSettings) -> dict[str, int]:
    from orchestration.demo import table_counts as counts

    return {f"{s}.{t}": n for s, t, n in counts(settings)}
