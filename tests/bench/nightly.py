"""Full rebuild vs one new day through `nightly_job` (issue 8's performance target: incremental <= 10 %).

Runs against a private embedded warehouse (its own port and data dir under .local/bench/) so a
developer's demo warehouse is untouched. BENCH_SIZE (default large) picks the simulated shop.
"""

from __future__ import annotations

import os
import shutil
import time

from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse
from ingestion.warehouse.paths import local_dir
from tests.bench.results import record


def _run_nightly(instance) -> float:
    from orchestration.definitions import defs
    from orchestration.defs.insights.partitions import nightly_partition_key

    t0 = time.perf_counter()
    result = defs.resolve_job_def("nightly_job").execute_in_process(
        instance=instance, raise_on_error=False, partition_key=nightly_partition_key()
    )
    elapsed = time.perf_counter() - t0
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        raise SystemExit(f"nightly_job failed in the benchmark: {failed}")
    return elapsed


def run(size: str | None = None) -> dict:
    import dagster as dg

    from ingestion.sandbox.emulators import running_emulators
    from ingestion.sandbox.shop import advance_world, generate_world, load_world

    size = size or os.environ.get("BENCH_SIZE", "large")
    bench_dir = local_dir() / "bench" / f"nightly_{size}"
    shutil.rmtree(bench_dir, ignore_errors=True)
    world_dir = bench_dir / "world"
    os.environ.update(
        WAREHOUSE_PORT=os.environ.get("BENCH_WAREHOUSE_PORT", "55433"),
        WAREHOUSE_DATA_DIR=str(bench_dir / "warehouse"),
        JOURNEY_SANDBOX_SIZE=size,
        EVENTS_LANDING_DIR=str(world_dir / "landing" / "events"),
    )
    os.environ.pop("WAREHOUSE_URL", None)
    os.environ.pop("OPENAI_API_KEY", None)
    # both nights run in this process, and the insights partitions end at the JOURNEY_AS_OF seen when
    # the code location loads: load it without one (partitions to yesterday, as in production), so the
    # second night's run date exists
    as_of = os.environ.pop("JOURNEY_AS_OF", None)
    import orchestration.definitions  # noqa: F401

    if as_of:
        os.environ["JOURNEY_AS_OF"] = as_of
    settings = WarehouseSettings.from_env()
    server = EmbeddedPostgres(settings)
    server.up()
    init_warehouse(settings)
    try:
        print(f"[bench] generating the {size} shop ...", flush=True)
        generate_world(size, 42, world_dir)
        (bench_dir / "dagster_home").mkdir(parents=True, exist_ok=True)
        with dg.instance_for_test(temp_dir=str(bench_dir / "dagster_home")) as instance:
            world = load_world(world_dir)
            os.environ["JOURNEY_AS_OF"] = world["end_date"]
            with running_emulators(world_dir) as env:
                os.environ.update(env)
                full = _run_nightly(instance)
            print(f"[bench] full rebuild: {full:.1f}s; advancing one day ...", flush=True)
            world = advance_world(world_dir, 1)
            os.environ["JOURNEY_AS_OF"] = world["end_date"]
            with running_emulators(world_dir) as env:
                os.environ.update(env)
                incremental = _run_nightly(instance)
    finally:
        server.down()
    figures = {
        "full_rebuild_s": round(full, 1),
        "nightly_incremental_s": round(incremental, 1),
        "nightly_incremental_ratio": round(incremental / full, 3),
        "nightly_bench_size": size,
    }
    print(
        f"[bench] nightly_job on {size}: full {full:.1f}s, one new day {incremental:.1f}s "
        f"(ratio {incremental / full:.1%}; target <= 10%)"
    )
    record(figures)
    return figures


if __name__ == "__main__":
    run()
