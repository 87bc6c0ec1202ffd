"""Run recovery on a real local instance (the project's dagster.local.yaml): a process executing a run that
holds a `warehouse` pool slot is killed with SIGKILL; the run is found dead, marked failed and its slot
freed, while a live run is never touched. The full nightly version is tests/e2e/test_kill_recovery.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psutil
import pytest

from ingestion.warehouse.paths import PROJECT_ROOT
from orchestration.defs.ops.run_recovery import dead_run_recovery_sensor, in_progress_runs, recover_dead_runs

# a run that claims the `warehouse` pool slot and then waits to be killed
HOLDER = textwrap.dedent(
    """
    import time, dagster as dg
    from orchestration.defs.ops.run_recovery import host_tags

    @dg.op(pool="warehouse")
    def hold(context):
        print("holding", flush=True)
        time.sleep(600)

    @dg.job
    def holder_job():
        hold()

    with dg.DagsterInstance.get() as instance:
        holder_job.execute_in_process(instance=instance, tags=host_tags())
    """
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def _slots(instance: dg.DagsterInstance) -> list[str]:
    storage = instance.event_log_storage
    return [
        s.run_id
        for k in storage.get_concurrency_keys()
        for s in storage.get_concurrency_info(k).claimed_slots
    ]


def test_a_killed_run_is_failed_and_its_slot_freed_a_live_one_is_left(home: Path):
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        with dg.DagsterInstance.get() as instance:
            (live,) = in_progress_runs(instance)
            assert live.alive and live.pid == proc.pid and _slots(instance) == [live.run_id]
            assert recover_dead_runs(instance, say=lambda _: None) == []  # alive: never touched

            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            (dead,) = in_progress_runs(instance)
            assert not dead.alive and dead.run_id == live.run_id

            said: list[str] = []
            (recovered,) = recover_dead_runs(instance, say=said.append)
            assert recovered.run_id == live.run_id and "pool slots freed" in said[0]
            assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.FAILURE
            assert _slots(instance) == [] and in_progress_runs(instance) == []
            result = dead_run_recovery_sensor(dg.build_sensor_context(instance=instance))
            assert result.skip_message == "no dead runs"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_reused_pid_does_not_keep_a_dead_run_alive():
    """The pid of a dead run now belongs to a process started after the run: that is not its process."""
    from orchestration.defs.ops.run_recovery import _alive

    before_us = datetime.fromtimestamp(psutil.Process().create_time() - 60, tz=UTC)
    assert not _alive(os.getpid(), before_us)
    assert _alive(os.getpid(), datetime.now(tz=UTC))
