"""Model registry: every training run in `ml.model_runs`, artifacts in a model store, and the rule that
decides whether a new model replaces the champion.

Promotion rule (`decide`): a candidate is promoted only if it beats its baseline on the primary metric
AND is not worse than the current champion by more than `tolerance` (relative, on the same split).
The champion is re-evaluated on the candidate's split when its artifact still fits the data; when it
cannot be (features changed), its recorded metric is used and the reason says so.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import psycopg
from psycopg.types.json import Jsonb

from ml.core import Evaluation

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
    primary_metric text not null,
    higher_is_better boolean not null,
    metrics jsonb not null,
    baseline_name text not null,
    baseline_metrics jsonb not null,
    champion_version text,
    champion_metric double precision,
    artifact_uri text not null,
    promoted boolean not null,
    reason text not null,
    train_seconds double precision
)
"""


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str


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


def champion(conn: psycopg.Connection, model_name: str) -> Champion | None:
    """The latest promoted run of a model, or None before the first promotion."""
    ensure_table(conn)
    row = conn.execute(
        """select version, artifact_uri, (metrics ->> primary_metric)::float, trained_at
           from ml.model_runs where model = %s and promoted
           order by trained_at desc limit 1""",
        (model_name,),
    ).fetchone()
    return Champion(*row) if row else None


def decide(evaluation: Evaluation, champion_metric: float | None, tolerance: float) -> Decision:
    """Promote only when the candidate beats the baseline and is within `tolerance` (relative) of, or
    better than, the champion's metric on the same split."""
    name = evaluation.primary_metric
    cand, base = evaluation.metrics[name], evaluation.baseline_metrics[name]
    better = ">" if evaluation.higher_is_better else "<"
    if not evaluation.beats_baseline():
        return Decision(
            False, f"{name} {cand:.4f} does not beat baseline {evaluation.baseline_name} ({base:.4f})"
        )
    if champion_metric is None:
        return Decision(True, f"first model: {name} {cand:.4f} {better} baseline {base:.4f}")
    if evaluation.higher_is_better:
        floor = champion_metric - abs(champion_metric) * tolerance
        ok, bound = cand >= floor, f">= {floor:.4f}"
    else:
        ceiling = champion_metric + abs(champion_metric) * tolerance
        ok, bound = cand <= ceiling, f"<= {ceiling:.4f}"
    verdict = "within" if ok else "worse than"
    reason = (
        f"{name} {cand:.4f} {better} baseline {base:.4f}; {verdict} champion {champion_metric:.4f} "
        f"(tolerance {tolerance:.0%}: needs {bound})"
    )
    return Decision(ok, reason)


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
    ensure_table(conn)
    run_id = uuid.uuid4().hex
    conn.execute(
        """insert into ml.model_runs values
           (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            run_id, model_name, version, as_of, Jsonb(jsonable(evaluation.split)), Jsonb(row_counts),
            Jsonb(jsonable(params)), evaluation.primary_metric, evaluation.higher_is_better,
            Jsonb(jsonable(evaluation.metrics)), evaluation.baseline_name,
            Jsonb(jsonable(evaluation.baseline_metrics)), champion_version, champion_metric,
            artifact_uri, decision.promoted, decision.reason, train_seconds,
        ),
    )  # fmt: skip
    return run_id


def jsonable(value: Any) -> Any:
    """`value` with dates, numpy numbers etc. turned into JSON types (their str when not native)."""
    return json.loads(json.dumps(value, default=str))
