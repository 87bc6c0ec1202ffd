"""`journey demo`: one command from a fresh clone to a populated warehouse.

warehouse up -> simulated shop generated if missing -> emulators started -> `journey sources check`
against them (the same check a real account gets) -> nightly_job executed in-process against the
persistent Dagster instance (so the run shows up in `make dev`) -> summary.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from ingestion.raw_contract import ensure_raw_tables
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, connect, init_warehouse
from ingestion.warehouse.contract import RAW_SCHEMAS, SCHEMAS
from ingestion.warehouse.paths import PROJECT_ROOT, local_dir

if TYPE_CHECKING:
    from dagster import DagsterInstance  # imported lazily at run time: `journey demo` starts fast


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def ensure_world(size: str, seed: int) -> Path:
    """Generate the simulated shop unless it exists; point data-freshness checks at its 'today'."""
    from ingestion.sandbox.shop import generate_world, load_world
    from ingestion.sandbox.shop.config import VERSION

    world_dir = local_dir() / "sandbox" / size
    world = load_world(world_dir) if (world_dir / "world.json").exists() else None
    if world is not None and world.get("generated_at_version") != VERSION:
        _say(
            f"simulated shop '{size}' in {world_dir} is from generator {world.get('generated_at_version')}, "
            f"this one is {VERSION}: regenerating it"
        )
        shutil.rmtree(world_dir)  # sandbox files only (under .local): nothing of the old shop may linger
        world = None
    if world is not None:
        _say(
            f"simulated shop '{size}' already in {world_dir} (`journey sandbox advance --days 1` adds a day)"
        )
    else:
        _say(f"generating the '{size}' simulated shop (seed {seed}) into {world_dir} ...")
        t0 = time.perf_counter()
        world = generate_world(size, seed, world_dir)
        counts = ", ".join(f"{k}={v:,}" for k, v in sorted(world.get("counts", {}).items()))
        _say(f"generated {world['days']} days in {time.perf_counter() - t0:.1f}s: {counts}")
    os.environ.setdefault("JOURNEY_AS_OF", str(world["end_date"]))
    return world_dir


def _marker() -> Path:
    return local_dir() / "demo_world.json"


def recorded_world(settings: WarehouseSettings) -> dict | None:
    """The shop ({"size", "seed"}) the marker says this warehouse holds; None when none is recorded
    for this warehouse (a fresh machine, or a marker written for another warehouse)."""
    marker = _marker()
    if not marker.exists():
        return None
    previous = json.loads(marker.read_text())
    return previous if previous.get("warehouse") == _identity(settings) else None


def use_one_world(settings: WarehouseSettings, world_dir: Path) -> None:
    """One warehouse holds one simulated shop. The shops of different sizes or seeds reuse the same id
    ranges, so loading `small` on top of `tiny` would mix two shops (orders pointing at products of the
    other one). When the warehouse holds another shop (or data the demo did not record), its schemas and
    the dlt pipeline state are dropped and the contract re-applied, and the demo says so."""
    from ingestion.sandbox.shop import load_world

    world = load_world(world_dir)
    this = {"warehouse": _identity(settings), "size": world.get("size"), "seed": world.get("seed"),
            "version": world.get("generated_at_version")}  # fmt: skip
    previous = recorded_world(settings)
    if previous:
        held = (previous.get("size"), previous.get("seed"), previous.get("version"))
        if held == (this["size"], this["seed"], this["version"]):
            return
        reason = (
            f"it holds the '{previous.get('size')}' shop (seed {previous.get('seed')}, generator "
            f"{previous.get('version') or 'shop-1'})"
        )
    else:
        reason = "it holds raw data the demo did not record" if _holds_raw_rows(settings) else ""
    if reason:
        _say(f"resetting the warehouse for the '{this['size']}' shop: {reason}")
        with connect("admin", settings, autocommit=True) as conn:
            for schema in SCHEMAS:
                conn.execute(f'drop schema if exists "{schema}" cascade')
        shutil.rmtree(local_dir() / "dlt", ignore_errors=True)  # incremental cursors of the old shop
        init_warehouse(settings)
        ensure_raw_tables(settings)
    _marker().parent.mkdir(parents=True, exist_ok=True)
    _marker().write_text(json.dumps(this, indent=2) + "\n")


# -- `journey dev`: serve the shop the warehouse holds ------------------------------------------
DEFAULT_SIZE = "small"  # the shop of a fresh machine (`make demo`, `make dev`)
DEFAULT_SEED = 42


class WorldMismatch(Exception):
    """`journey dev` was asked to serve another shop than the warehouse holds: its emulators would
    feed the other shop's rows into this one's tables (the same id ranges), so it refuses instead."""


def _world_on_disk(size: str) -> dict | None:
    world_json = local_dir() / "sandbox" / size / "world.json"
    return json.loads(world_json.read_text()) if world_json.exists() else None


def choose_dev_world(
    settings: WarehouseSettings, requested: str | None, reset: bool = False
) -> tuple[str, int]:
    """(size, seed) of the shop `journey dev` serves. Without `requested`, the one the warehouse holds
    (the default size on a fresh machine); a `requested` size or a world on disk that is not the shop
    the warehouse holds raises WorldMismatch naming the commands that switch, unless `reset` allows
    dropping the warehouse's shop (use_one_world then does, as `journey demo` does)."""
    held = recorded_world(settings)
    size = requested or (held["size"] if held else DEFAULT_SIZE)
    on_disk = _world_on_disk(size)
    if on_disk is not None:
        seed = int(on_disk["seed"])  # an existing world is served as it is (ensure_world keeps it)
    elif held and held.get("size") == size:
        seed = int(held["seed"])  # regenerated identically: the generator is deterministic
    else:
        seed = DEFAULT_SEED
    if held and (held.get("size"), int(held.get("seed", -1))) != (size, seed) and not reset:
        raise WorldMismatch(_mismatch_message(settings, held, size, seed))
    return size, seed


def _mismatch_message(settings: WarehouseSettings, held: dict, size: str, seed: int) -> str:
    if held["size"] != size:
        why = f"you asked for '{size}'"
        keep = "make dev    (no SIZE: serves the shop the warehouse holds)"
    else:  # same size, another seed: .local/sandbox/<size> was regenerated
        why = f"{local_dir() / 'sandbox' / size} now holds seed {seed}"
        keep = f"uv run journey sandbox generate --size {size} --seed {held['seed']}    (then make dev)"
    return (
        f"the warehouse ({_identity(settings)}) holds the '{held['size']}' shop (seed {held['seed']}), "
        f"but {why}: serving both would mix two shops (orders of one pointing at products of the other).\n"
        f"  keep '{held['size']}':  {keep}\n" + _switch_lines(size, pad=len(held["size"]) + 10)
    )


def _switch_lines(size: str, pad: int = 8) -> str:
    return (
        f"  {'switch:':<{pad}}make demo SIZE={size}    (resets the warehouse, loads the '{size}' shop; then make dev)\n"
        f"  {'or:':>{pad - 2}}  uv run journey dev --size {size} --reset    (resets the warehouse; materialize from the UI)"
    )


def prepare_dev_world(settings: WarehouseSettings, world_dir: Path, reset: bool = False) -> None:
    """Record the shop `journey dev` serves (the warehouse must be up). A warehouse no shop was
    recorded for but holding raw rows may hold another shop, so it is reset only with `reset`; with
    a recorded shop, choose_dev_world has already refused what `reset` does not allow."""
    if not reset and recorded_world(settings) is None and _holds_raw_rows(settings):
        size = world_dir.name
        raise WorldMismatch(
            f"the warehouse ({_identity(settings)}) holds raw data no `journey demo` or `journey dev` "
            f"recorded (it may be another shop): serving the '{size}' shop on top could mix two.\n"
            + _switch_lines(size)
        )
    use_one_world(settings, world_dir)


def _identity(settings: WarehouseSettings) -> str:
    """Which warehouse, as `postgresql://user@host:port/db` (no secret; the format earlier markers hold)."""
    p = settings.parts("admin")
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['database']}"


def _tables(conn: psycopg.Connection, schemas: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(schema, table) of the warehouse's own tables in `schemas` (dlt's bookkeeping tables left out)."""
    return conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema = any(%s) and table_name not like '\\_dlt%%' order by 1, 2",
        (list(schemas),),
    ).fetchall()


def _holds_raw_rows(settings: WarehouseSettings) -> bool:
    """Any row in a raw table (the raw contract's tables exist empty on a fresh warehouse: not data)."""
    with connect("admin", settings) as conn:
        return any(
            conn.execute(f'select exists (select 1 from "{schema}"."{table}")').fetchone()[0]
            for schema, table in _tables(conn, RAW_SCHEMAS)
        )


def table_counts(settings: WarehouseSettings) -> list[tuple[str, str, int]]:
    rows: list[tuple[str, str, int]] = []
    with connect("admin", settings) as conn:
        for schema, table in _tables(conn, SCHEMAS):
            n = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            rows.append((schema, table, n))
    return rows


def prepare_environment(size: str) -> Path:
    """DAGSTER_HOME, the sandbox size, and a running warehouse with the contract applied."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", home / "dagster.yaml")
    os.environ["JOURNEY_SANDBOX_SIZE"] = size
    settings = WarehouseSettings.from_env()
    if settings.embedded:
        st = EmbeddedPostgres(settings).up()
        _say(f"warehouse {st.message} at {st.url}")
    init_warehouse(settings)
    ensure_raw_tables(settings)
    return local_dir() / "sandbox" / size


def run_demo(size: str = "small", seed: int = 42) -> int:
    """Run the whole nightly job on the embedded default. Returns a process exit code."""
    prepare_environment(size)
    settings = WarehouseSettings.from_env()
    world_dir = ensure_world(size, seed)
    use_one_world(settings, world_dir)

    from ingestion.sandbox.emulators import running_emulators

    with running_emulators(world_dir) as endpoints:
        os.environ.update(endpoints)
        # URLs only: the emulators' tokens are dummies, but credentials never go to the console
        _say(
            "emulators up: "
            + ", ".join(f"{k}={v}" for k, v in sorted(endpoints.items()) if k.endswith("_URL"))
        )
        if (code := check_sources()) != 0:
            return code
        return run_nightly(settings)


def check_sources() -> int:
    """`journey sources check` against the current environment, printed with the demo's prefix; a
    failing source stops the demo before the nightly run (its reason is the last thing printed)."""
    from orchestration.source_checks import print_checks

    _say("checking the sources (authenticate, scopes, API version, one page):")

    def echo(text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                _say(f"  {line}")

    return print_checks(echo=echo)


def _clear_the_way(instance: DagsterInstance) -> int:
    """Before a run: fail the runs whose process died (their pool slots would block this one forever),
    refuse to start a second nightly while one is alive, and say which live run holds the pool."""
    from orchestration.defs.ops.run_recovery import in_progress_runs, recover_dead_runs

    recover_dead_runs(instance, say=_say)
    for run in in_progress_runs(instance):
        if not run.alive:
            continue
        if run.job_name == "nightly_job":
            _say(
                f"{run.describe()} is still running: wait for it to finish, or stop it "
                f"(`kill {run.pid}`) and run this again (a killed run is recovered at the next start)"
            )
            return 1
        _say(f"note: {run.describe()} is in progress; steps in the 'warehouse' pool wait for it")
    return 0


def print_activation(settings: WarehouseSettings, run_id: str) -> None:
    """What this run's syncs did: per destination and segment, the audience, members, match rate."""
    with connect("admin", settings) as conn:
        rows = conn.execute(
            "select destination, segment, status, coalesce(audience_id, ''), eligible, adds, removes, "
            "without_consent, match_rate from activation.sync_runs where run_id = %s order by 1, 2",
            (run_id,),
        ).fetchall()
    if not rows:
        return
    print("\nSegments synced (activation.sync_runs; marts.segment_members holds who is in each):")
    print(f"  {'destination':<22} {'segment':<20} {'status':<10} {'audience':<18} {'exported':>8} "
          f"{'+adds':>6} {'-rem':>5} {'no consent':>10} {'match':>6}")  # fmt: skip
    for dest, seg, status, audience, eligible, adds, removes, no_consent, match in rows:
        rate = f"{match:.0%}" if match is not None else "-"
        print(f"  {dest:<22} {seg:<20} {status:<10} {audience:<18} {eligible or 0:>8} {adds:>6} {removes:>5} "
              f"{no_consent or 0:>10} {rate:>6}")  # fmt: skip


def run_nightly(settings: WarehouseSettings, partition: str | None = None) -> int:
    """nightly_job in-process against the persistent Dagster instance (DAGSTER_HOME), for `partition`
    (default: the day before JOURNEY_AS_OF or today), then what it filled. Returns an exit code."""
    from dagster import DagsterInstance

    from ingestion.sources import statuses
    from orchestration.definitions import defs
    from orchestration.defs.insights.partitions import nightly_partition_key
    from orchestration.defs.ops.run_recovery import host_tags

    for status in statuses():
        _say(
            f"source {status.source}: {'configured' if status.configured else 'not configured'} ({status.reason})"
        )
    from orchestration.defs.insights.partitions import insights_partitions

    job = defs.resolve_job_def("nightly_job")
    partition = partition or nightly_partition_key()  # raises ValueError naming INSIGHTS_START_DATE
    if not insights_partitions.has_partition_key(partition):
        raise ValueError(
            f"no insights partition {partition}: run dates go daily from "
            f"{insights_partitions.get_first_partition_key()} (INSIGHTS_START_DATE) to yesterday"
        )
    _say(f"running nightly_job (ingest -> dbt -> ML -> insights for {partition}) ...")
    t0 = time.perf_counter()
    with DagsterInstance.get() as instance:
        if (blocked := _clear_the_way(instance)) != 0:
            return blocked
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            partition_key=partition,
            tags=host_tags(),  # lets the next run judge whether this one's process is still alive
            # INFO on the console (step starts/ends, rows loaded, promotion decisions); the full
            # DEBUG event log stays in the run, in the UI
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    elapsed = time.perf_counter() - t0

    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    _say(
        f"nightly_job {'succeeded' if result.success else 'FAILED'} in {elapsed:.0f}s (run id {result.run_id})"
    )
    for event in failed:
        _say(f"  failed step: {event.step_key}: {event.event_specific_data.error.message.strip()[:500]}")

    print_activation(settings, result.run_id)
    print("\nWarehouse tables (rows):")
    for schema, table, n in table_counts(settings):
        print(f"  {schema + '.' + table:<48} {n:>12,}")
    print(
        "\nWhere to look:\n"
        "  Dagster UI:   make dev            -> http://127.0.0.1:3000 (this run is in its Runs tab)\n"
        f"  SQL:          uv run journey warehouse psql     ({settings.redacted()})\n"
        "  Metabase:     docker compose up -d metabase && uv run journey dashboards apply\n"
    )
    return 0 if result.success else 1
