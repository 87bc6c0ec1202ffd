"""Tier 5, crash recovery: `kill -9` of `journey nightly` in a dlt load and then in `dbt build`; the next
`journey nightly` recovers the dead runs (marked failed, pool slots freed), finishes in bounded time, and
leaves the warehouse equal to a clean run (the shared `nightly` fixture, same shop, same run date).

Before the fix the killed run stayed STARTED with its `warehouse` pool slot claimed and the next nightly
waited forever; the dbt child of the killed run kept building. Each run is a real process started the
documented way (`journey nightly`), in a warehouse, dlt state and Dagster instance of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings
from ingestion.warehouse.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e

JOURNEY = Path(sys.executable).parent / "journey"
RERUN_LIMIT_S = 420  # a clean tiny nightly takes ~90 s here; a hang would never end


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(
                f"journey nightly exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {timeout:.0f}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def shop(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory):
    """Environment of a brand running `journey nightly` on the tiny shop's emulators, nothing started yet."""
    from ingestion.sandbox.emulators import running_emulators
    from ingestion.sandbox.shop import load_world

    root = tmp_path_factory.mktemp("kill")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "orchestration" / "dagster.local.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("WAREHOUSE_URL", "OPENAI_API_KEY")}
    env.update({
        "JOURNEY_LOCAL_DIR": str(root / "local"),
        "WAREHOUSE_PORT": str(_free_port()),
        "WAREHOUSE_DATA_DIR": str(root / "warehouse"),
        "DAGSTER_HOME": str(home),
        "JOURNEY_SANDBOX_SIZE": "tiny",
        "JOURNEY_AS_OF": str(load_world(tiny_world)["end_date"]),
        "EVENTS_LANDING_DIR": str(tiny_world / "landing" / "events"),
    })  # fmt: skip
    with running_emulators(tiny_world) as endpoints:
        env.update(endpoints)
        yield {"env": env, "root": root}
    EmbeddedPostgres(WarehouseSettings.from_env(env)).down()


def _start(shop: dict, name: str) -> tuple[subprocess.Popen, Path]:
    log = shop["root"] / f"{name}.log"
    proc = subprocess.Popen(
        [str(JOURNEY), "nightly"], env=shop["env"], cwd=PROJECT_ROOT,
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc, log


def _dlt_package_pending(shop: dict) -> bool:
    """A dlt load package of the Shopify pipeline is normalized and being loaded (or about to be)."""
    normalized = shop["root"] / "local" / "dlt" / "shopify" / "load" / "normalized"
    return normalized.is_dir() and any(normalized.iterdir())


def _dbt_children(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "build" in child.cmdline() and any(part.endswith("dbt") for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _in_progress(shop: dict) -> tuple[list[dg.DagsterRun], dict[str, list]]:
    """Runs in progress and claimed pool slots, read from the shop's own Dagster instance."""
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter

    with dg.DagsterInstance.from_config(shop["env"]["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES))
        storage = instance.event_log_storage
        slots = {k: storage.get_concurrency_info(k).claimed_slots for k in storage.get_concurrency_keys()}
        return list(runs), {k: v for k, v in slots.items() if v}


@pytest.fixture(scope="module")
def killed_twice_then_rerun(shop: dict):
    # 1. killed while dlt loads the Shopify package
    proc, log = _start(shop, "killed_in_dlt")
    _wait_for(lambda: _dlt_package_pending(shop), 240, "Shopify dlt load package", proc, log)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stuck_after_dlt_kill, _ = _in_progress(shop)

    # 2. killed while dbt builds; its dbt child must not outlive it
    proc, log = _start(shop, "killed_in_dbt")
    _wait_for(lambda: bool(_dbt_children(proc)), 300, "dbt build child process", proc, log)
    time.sleep(3)  # well inside the build: models are being written
    dbt = _dbt_children(proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(dbt, timeout=30)
    stuck_after_dbt_kill, slots_after_dbt_kill = _in_progress(shop)

    # 3. the next nightly, unattended: must finish, and say what it recovered
    proc, log = _start(shop, "rerun")
    try:
        code = proc.wait(timeout=RERUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(
            f"the nightly after two kills did not finish in {RERUN_LIMIT_S}s:\n{log.read_text()[-3000:]}"
        )
    return {
        "stuck_after_dlt_kill": stuck_after_dlt_kill,
        "stuck_after_dbt_kill": stuck_after_dbt_kill,
        "slots_after_dbt_kill": slots_after_dbt_kill,
        "dbt_alive_after_kill": alive,
        "code": code,
        "output": log.read_text(),
        "after": _in_progress(shop),
        "counts": _counts(WarehouseSettings.from_env(shop["env"])),
    }


def _counts(settings: WarehouseSettings) -> dict[str, int]:
    from orchestration.demo import table_counts

    return {f"{s}.{t}": n for s, t, n in table_counts(settings)}


def test_a_killed_run_is_left_started_holding_the_pool(killed_twice_then_rerun):
    """The precondition of the bug: without recovery these runs would block the next nightly forever."""
    assert len(killed_twice_then_rerun["stuck_after_dlt_kill"]) == 1
    # the second start recovered the first dead run; the second kill left one new dead run with its slot
    assert len(killed_twice_then_rerun["stuck_after_dbt_kill"]) == 1
    assert "warehouse" in killed_twice_then_rerun["slots_after_dbt_kill"]


def test_dbt_dies_with_the_killed_run(killed_twice_then_rerun):
    assert killed_twice_then_rerun["dbt_alive_after_kill"] == []


def test_the_next_nightly_recovers_and_finishes(killed_twice_then_rerun):
    output = killed_twice_then_rerun["output"]
    assert killed_twice_then_rerun["code"] == 0, output[-3000:]
    assert "recovered nightly_job run" in output and "marked failed, pool slots freed" in output
    runs, slots = killed_twice_then_rerun["after"]
    assert runs == [] and slots == {}


# logs of requests by design (one row per GA4 report request, whichever run made it): the killed runs'
# requests are history, not duplicates
REQUEST_LOGS = {"ga4.report_metadata"}


def test_the_warehouse_equals_a_clean_run(killed_twice_then_rerun, nightly):
    after, clean = killed_twice_then_rerun["counts"], nightly["counts_first"]
    assert set(after) == set(clean)
    assert {k: v for k, v in after.items() if k not in REQUEST_LOGS} == {
        k: v for k, v in clean.items() if k not in REQUEST_LOGS
    }
    assert all(after[k] >= clean[k] for k in REQUEST_LOGS)
