"""Runs whose process died: found, marked failed, their pool slots freed, so the next run can start.

Why this exists: `journey nightly` and `journey demo` execute nightly_job in-process. A `kill -9`, an
OOM kill or a power cut leaves that run STARTED in the instance and its `warehouse` pool slot claimed
forever, so the next run waits on the pool indefinitely. Dagster's run monitoring (enabled in both
instance configs) fails runs whose worker a launcher can health-check and frees the slots of runs that
ended; neither the default run launcher nor an in-process run can be health-checked. What decides is
whether the process that executes the run is still alive: Dagster records its pid in the run's first
engine event ("Executing steps in process (pid: N)" in-process, "Started process for run" otherwise).

A pid means something only on the machine that ran it: runs tagged with this host (`journey nightly`
tags its runs) are checked; untagged runs only when the instance's storage is local (SQLite under
DAGSTER_HOME, i.e. one machine). On a shared Postgres instance untagged runs are left to run monitoring.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import psutil
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

HOST_TAG = "journey/host"


@dataclass(frozen=True)
class RunProcess:
    """An in-progress run and the process executing it (pid None: it never started executing)."""

    run_id: str
    job_name: str
    status: str
    pid: int | None
    alive: bool
    started_at: datetime

    def describe(self) -> str:
        since = self.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.job_name} run {self.run_id} ({self.status} since {since}, pid {self.pid or '?'})"


def host_tags() -> dict[str, str]:
    """Tags for a run executed by this process, so recovery knows which machine its pid belongs to."""
    return {HOST_TAG: socket.gethostname()}


def _run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid named by one of the run's first engine events (a long run logs thousands more)."""
    first = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=10)
    for record in first.records:
        event = record.event_log_entry.dagster_event
        metadata = event.event_specific_data.metadata if event else {}
        pid = metadata.get("pid")
        if pid is not None and str(pid.value).isdigit():
            return int(pid.value)
    return None


def _alive(pid: int, since: datetime) -> bool:
    """The process exists, is not a zombie, and is not a newer process that reused the pid."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= since.timestamp() + 5
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def in_progress_runs(instance: dg.DagsterInstance) -> list[RunProcess]:
    """Runs in progress whose pid this machine can judge (see the module docstring)."""
    local_storage = isinstance(instance.run_storage, SqliteRunStorage)
    here = socket.gethostname()
    found = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)):
        run = record.dagster_run
        host = run.tags.get(HOST_TAG)
        if host != here and not (host is None and local_storage):
            continue
        started = record.start_time or record.create_timestamp.timestamp()
        started_at = datetime.fromtimestamp(started, tz=UTC)
        pid = _run_pid(instance, run.run_id)
        found.append(
            RunProcess(
                run_id=run.run_id,
                job_name=run.job_name,
                status=run.status.value,
                pid=pid,
                alive=pid is not None and _alive(pid, started_at),
                started_at=started_at,
            )
        )
    return found


def recover_dead_runs(instance: dg.DagsterInstance, say: Callable[[str], None] = print) -> list[RunProcess]:
    """Mark every run whose process is gone as failed and free its concurrency slots and pending steps.
    Runs that never reached execution (no pid) are left alone: they hold no slot. Returns the recovered."""
    recovered = []
    for run in in_progress_runs(instance):
        if run.pid is None or run.alive:
            continue
        dagster_run = instance.get_run_by_id(run.run_id)
        if dagster_run is None or dagster_run.status.value != run.status:
            continue  # it ended while we looked
        instance.report_run_failed(
            dagster_run,
            f"The process executing this run (pid {run.pid} on {socket.gethostname()}) is gone: killed "
            "or crashed. Marked failed by journey's run recovery so its pool slots are freed; rerun "
            "the job (its steps are idempotent).",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"recovered {run.describe()}: its process is gone; marked failed, pool slots freed")
        recovered.append(run)
    return recovered


@dg.sensor(
    name="dead_run_recovery_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Every minute while the daemon runs (`make dev`, deployments): runs whose process died (kill -9, "
        "OOM, a crashed `dagster dev`) are marked failed and their `warehouse` pool slots freed, so "
        "queued runs and the next nightly do not wait on a slot nobody will release."
    ),
)
def dead_run_recovery_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    recovered = recover_dead_runs(context.instance, say=context.log.warning)
    if recovered:
        return dg.SkipReason(
            f"recovered {len(recovered)} dead run(s): {', '.join(r.run_id for r in recovered)}"
        )
    return dg.SkipReason("no dead runs")


defs = dg.Definitions(sensors=[dead_run_recovery_sensor])
