"""Model registry: every training run in `ml.model_runs`, artifacts in a model store, and the rule that
decides whether a new model replaces the champion.

Promotion rule (`decide`): a candidate is promoted only if it beats its baseline on the primary metric,
holds every guard rail of its evaluation (metrics it may not lose against the baseline or a naive
reference, or absolute limits: `ml.core.GuardRail`), AND is not worse than the current champion by
more than `tolerance` (relative, on the same split).
The champion is re-evaluated on the candidate's split when its artifact still fits the data; when it
cannot be (features changed), its recorded metric is used and the reason says so.

A run is `trained` (a candidate was fitted and judged) or `skipped` (the inputs could not support an
honest fit: `ml.core.InsufficientData`). A skipped run has no model, so no metrics, no primary
metric, no baseline and no artifact (those columns are null or `{}`, never invented); its `reason`
says what was missing and `row_counts` / `data_window` hold the counts it was judged on.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ml.core import Evaluation, InsufficientData, RailResult

DDL = """
create table if not exists ml.model_runs (
    run_id text primary key,
    model text not null,
    version text not null,
    trained_at timestamptz not null,
    as_of date not null,
    data_window jsonb not null,
    row_counts jsonb not null,
    params jsonb not null,
    primary_metric text,
    higher_is_better boolean,
    metrics jsonb not null,
    baseline_name text,
    baseline_metrics jsonb not null,
    champion_version text,
    champion_metric double precision,
    artifact_uri text,
    promoted boolean not null,
    reason text not null,
    train_seconds double precision,
    status text not null default 'trained' check (status in ('trained', 'skipped')),
    guard_rails jsonb not null default '{}'
)
"""

# ml.model_runs created before runs could be skipped: add `status` (every existing row was trained) and
# let the columns a skipped run has no value for be null. Run once, when `status` is missing, so the
# nightly's concurrent ML steps do not queue on an ALTER's exclusive lock every time.
MIGRATION = """
alter table ml.model_runs
    add column if not exists status text not null default 'trained'
        check (status in ('trained', 'skipped')),
    alter column primary_metric drop not null,
    alter column higher_is_better drop not null,
    alter column baseline_name drop not null,
    alter column artifact_uri drop not null
"""
# ml.model_runs created before guard rails: `guard_rails` holds each rail's outcome and the naive
# references' metrics ({"rails": [...], "references": {...}}); older rows had none
RAILS_MIGRATION = "alter table ml.model_runs add column if not exists guard_rails jsonb not null default '{}'"


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    rails: tuple[RailResult, ...] = ()  # every guard rail's outcome, passed or not


@dataclass(frozen=True)
class Champion:
    version: str
    artifact_uri: str
    metric: float
    trained_at: dt.datetime


class ModelStore:
    """Pickled model artifacts under a base URL: a local folder by default, any fsspec URL in production
    (s3://bucket/models, gs://..., memory://...)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def save(self, model_name: str, version: str, model: Any) -> str:
        uri = f"{self.base_url}/{model_name}/{version}.pkl"
        fs, path = fsspec.core.url_to_fs(uri)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        return uri

    def load(self, uri: str) -> Any:
        with fsspec.open(uri, "rb") as f:
            return pickle.load(f)  # noqa: S301 - our own artifacts, written by save()


def new_version(model_name: str, now: dt.datetime | None = None) -> str:
    """Sortable and unique: `<model>-YYYYmmddTHHMMSS-<6 hex>`."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{model_name}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(DDL)
    has_status = conn.execute(
        """select 1 from information_schema.columns
           where table_schema = 'ml' and table_name = 'model_runs' and column_name = 'status'"""
    ).fetchone()
    if not has_status:
        conn.execute(MIGRATION)
    has_rails = conn.execute(
        """select 1 from information_schema.columns
           where table_schema = 'ml' and table_name = 'model_runs' and column_name = 'guard_rails'"""
    ).fetchone()
    if not has_rails:
        conn.execute(RAILS_MIGRATION)


def champion(
    conn: psycopg.Connection, model_name: str, same: dict[str, Any] | None = None
) -> Champion | None:
    """The latest promoted run of a model, or None before the first promotion. `same` = params the
    champion must have been trained with (a package's CHAMPION_KEYS, e.g. {"horizon_days": 365}): a
    model of another horizon predicts another quantity, so it is no champion for this one."""
    ensure_table(conn)
    row = conn.execute(
        """select version, artifact_uri, (metrics ->> primary_metric)::float, trained_at
           from ml.model_runs where model = %s and promoted and params @> %s
           order by trained_at desc limit 1""",
        (model_name, Jsonb(jsonable(same or {}))),
    ).fetchone()
    return Champion(*row) if row else None


def decide(evaluation: Evaluation, champion_metric: float | None, tolerance: float) -> Decision:
    """Promote only when the candidate beats the baseline, holds its guard rails and is within
    `tolerance` (relative) of, or better than, the champion's metric on the same split."""
    name = evaluation.primary_metric
    cand, base = evaluation.metrics[name], evaluation.baseline_metrics[name]
    better = ">" if evaluation.higher_is_better else "<"
    rails = tuple(evaluation.check_rails())
    if not evaluation.beats_baseline():
        return Decision(
            False, f"{name} {cand:.4f} does not beat baseline {evaluation.baseline_name} ({base:.4f})", rails
        )
    failed = [r.text for r in rails if not r.passed]
    if failed:
        return Decision(
            False,
            f"{name} {cand:.4f} {better} baseline {base:.4f}, but guard rail{'s' if len(failed) > 1 else ''} "
            f"failed: {'; '.join(failed)}",
            rails,
        )
    held = f"; guard rails held ({len(rails)})" if rails else ""
    if champion_metric is None:
        return Decision(True, f"first model: {name} {cand:.4f} {better} baseline {base:.4f}{held}", rails)
    if evaluation.higher_is_better:
        floor = champion_metric - abs(champion_metric) * tolerance
        ok, bound = cand >= floor, f">= {floor:.4f}"
    else:
        ceiling = champion_metric + abs(champion_metric) * tolerance
        ok, bound = cand <= ceiling, f"<= {ceiling:.4f}"
    verdict = "within" if ok else "worse than"
    reason = (
        f"{name} {cand:.4f} {better} baseline {base:.4f}{held}; {verdict} champion {champion_metric:.4f} "
        f"(tolerance {tolerance:.0%}: needs {bound})"
    )
    return Decision(ok, reason, rails)


def record_run(
    conn: psycopg.Connection,
    *,
    model_name: str,
    version: str,
    as_of: dt.date,
    evaluation: Evaluation,
    params: dict[str, Any],
    row_counts: dict[str, int],
    artifact_uri: str,
    decision: Decision,
    champion_version: str | None,
    champion_metric: float | None,
    train_seconds: float,
) -> str:
    return _insert(
        conn,
        run_id=uuid.uuid4().hex, model=model_name, version=version, as_of=as_of,
        data_window=Jsonb(jsonable(evaluation.split)), row_counts=Jsonb(jsonable(row_counts)),
        params=Jsonb(jsonable(params)), primary_metric=evaluation.primary_metric,
        higher_is_better=evaluation.higher_is_better, metrics=Jsonb(jsonable(evaluation.metrics)),
        baseline_name=evaluation.baseline_name, baseline_metrics=Jsonb(jsonable(evaluation.baseline_metrics)),
        champion_version=champion_version, champion_metric=champion_metric, artifact_uri=artifact_uri,
        promoted=decision.promoted, reason=decision.reason, train_seconds=train_seconds, status="trained",
        guard_rails=Jsonb(jsonable({
            "rails": [r.as_dict() for r in decision.rails], "references": evaluation.references,
        })),
    )  # fmt: skip


def record_skip(
    conn: psycopg.Connection,
    *,
    model_name: str,
    version: str,
    as_of: dt.date,
    skip: InsufficientData,
    params: dict[str, Any],
    seconds: float,
) -> str:
    """A run that trained nothing because the inputs could not support it: status 'skipped', not
    promoted, `reason` = why; every fact (counts and the limits they were held against) in
    data_window, the observed counts in row_counts. Metrics, baseline and artifact stay empty: there
    is no model to describe."""
    return _insert(
        conn,
        run_id=uuid.uuid4().hex, model=model_name, version=version, as_of=as_of,
        data_window=Jsonb(jsonable({"as_of": as_of, **skip.facts})), row_counts=Jsonb(skip.counts()),
        params=Jsonb(jsonable(params)), primary_metric=None, higher_is_better=None, metrics=Jsonb({}),
        baseline_name=None, baseline_metrics=Jsonb({}), champion_version=None, champion_metric=None,
        artifact_uri=None, promoted=False, reason=skip.reason, train_seconds=seconds, status="skipped",
    )  # fmt: skip


def _insert(conn: psycopg.Connection, **row: Any) -> str:
    ensure_table(conn)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in row)
    values = sql.SQL(", ").join(sql.Placeholder(c) for c in row)
    conn.execute(
        sql.SQL("insert into ml.model_runs ({}, trained_at) values ({}, now())").format(columns, values), row
    )
    return row["run_id"]


@dataclass(frozen=True)
class LastRun:
    version: str
    status: str
    promoted: bool
    reason: str
    trained_at: dt.datetime


def last_run(conn: psycopg.Connection, model_name: str) -> LastRun | None:
    """The newest run of a model, trained or skipped (what the scoring step explains itself with)."""
    ensure_table(conn)
    row = conn.execute(
        """select version, status, promoted, reason, trained_at from ml.model_runs
           where model = %s order by trained_at desc limit 1""",
        (model_name,),
    ).fetchone()
    return LastRun(*row) if row else None


def jsonable(value: Any) -> Any:
    """`value` with dates, numpy numbers etc. turned into JSON types (their str when not native), and
    NaN / infinities as null (JSON and Postgres' jsonb have no such numbers)."""
    return _finite(json.loads(json.dumps(value, default=str)))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
