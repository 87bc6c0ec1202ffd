"""What every model package in ml/ shares: its evaluation result, reading marts, writing ml.* tables.

Each model package (`ml/churn`, `ml/ltv`, `ml/recommendations`, `ml/forecast`, `ml/attribution`)
exposes plain functions, no Dagster:

    build_training_set(conn, as_of, params) -> a training set (the package's own dataclass)
    train(training_set, params)             -> a fitted model (picklable)
    evaluate(model, training_set, params)   -> Evaluation (model vs baseline on the same split)
    predict(model, conn, as_of, params)     -> pandas.DataFrame, the rows of its ml.* output table

and writes its output with `replace_table`. A model with several output tables also exposes
`predict_tables(...) -> {table: frame}` and `TABLE_COLUMN_TYPES` (recommendations). The registry (ml/registry.py) records each Evaluation in
ml.model_runs and decides promotion from `primary_metric` / `higher_is_better`.

Any source is optional, so the marts a model reads may be empty or hold too little to fit and judge a
model honestly. Then `build_training_set` (or, for a judgement only the evaluation can make,
`evaluate`) raises `InsufficientData` with the reason and the counts behind it; the caller records a
skipped run instead of training, and the scoring step writes its tables empty. It is never raised for
a bug or a broken warehouse: those stay ordinary exceptions and fail the run.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

LIMIT_PREFIXES = ("min_", "required_")


class InsufficientData(Exception):
    """The inputs cannot support training or evaluating this model (a source the shop does not have,
    or too little history): a reason to skip the run, not a failure.

    `reason` says what is missing in words a data engineer can act on; `facts` are the counts it was
    judged on and the limits they were held against, numbers as numbers (limits are named `min_*` or
    `required_*`, e.g. `holdout_customers=3, min_holdout_customers=20`)."""

    def __init__(self, reason: str, **facts: int | float | str):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts

    def counts(self) -> dict[str, int]:
        """The integer facts that are observations, not limits (what a skipped run's row_counts hold)."""
        return {
            k: v
            for k, v in self.facts.items()
            if isinstance(v, int) and not isinstance(v, bool) and not k.startswith(LIMIT_PREFIXES)
        }


@dataclass(frozen=True)
class GuardRail:
    """A metric a candidate must not lose while it wins on the primary one.

    Against a reference (`against`: "baseline", or the name of an `Evaluation.references` entry such
    as a naive predictor), the candidate may be worse by at most `tolerance`, in the metric's own
    units (0.02 on a Spearman correlation means 0.02, not 2 %). With `limit` set, the metric is held
    against that absolute bound instead (e.g. interval coverage error <= 0.05). A metric the
    evaluation does not have (e.g. per-category sMAPE of a shop without categories) is not
    applicable and passes, saying so; a NaN value where the reference is a number fails."""

    metric: str
    higher_is_better: bool
    tolerance: float = 0.0
    against: str = "baseline"
    limit: float | None = None

    def check(self, evaluation: Evaluation) -> RailResult:
        value = evaluation.metrics.get(self.metric)
        if self.limit is not None:
            reference, where, bound = None, "limit", self.limit
        else:
            where = self.against
            reference = evaluation.reference(self.against).get(self.metric)
            bound = None
            if reference is not None and not _nan(reference):
                slack = -self.tolerance if self.higher_is_better else self.tolerance
                bound = reference + slack
        if value is None or bound is None:
            missing = "candidate" if value is None else where
            return RailResult(self, value, reference, bound, True, f"{self.metric}: n/a ({missing} has none)")
        ok = (not _nan(value)) and (value >= bound if self.higher_is_better else value <= bound)
        op = ">=" if self.higher_is_better else "<="
        versus = f"limit {bound:.4f}" if self.limit is not None else (
            f"{where} {reference:.4f}" + (f" with tolerance {self.tolerance:g}" if self.tolerance else "")
        )  # fmt: skip
        text = f"{self.metric} {value:.4f} {'holds' if ok else 'fails'} {op} {bound:.4f} ({versus})"
        return RailResult(self, value, reference, bound, ok, text)


@dataclass(frozen=True)
class RailResult:
    rail: GuardRail
    value: float | None
    reference: float | None  # the reference's value (None against a limit)
    bound: float | None  # what the value had to reach
    passed: bool
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.rail.metric, "against": "limit" if self.rail.limit is not None else self.rail.against,
            "value": self.value, "reference": self.reference, "bound": self.bound, "passed": self.passed,
        }  # fmt: skip


def _nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


@dataclass
class Evaluation:
    """Metrics of a candidate model and of its baseline, measured on the same held-out split.

    `references` are further comparators measured on the same rows (e.g. the naive predictors
    {"zero": {...}, "mean": {...}}); `guard_rails` name the metrics the candidate must not lose
    against the baseline or a reference (see GuardRail and ml.registry.decide)."""

    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    primary_metric: str
    higher_is_better: bool = True
    baseline_name: str = ""
    split: dict[str, Any] = field(default_factory=dict)  # e.g. train/validation windows and row counts
    extra_markdown: str = ""  # calibration table, backtest plot... shown as asset metadata
    guard_rails: list[GuardRail] = field(default_factory=list)
    references: dict[str, dict[str, float]] = field(default_factory=dict)

    def beats_baseline(self) -> bool:
        m, b = self.metrics[self.primary_metric], self.baseline_metrics[self.primary_metric]
        return m > b if self.higher_is_better else m < b

    def reference(self, name: str) -> dict[str, float]:
        """The metrics of comparator `name`: "baseline" or a `references` entry (KeyError otherwise)."""
        return self.baseline_metrics if name == "baseline" else self.references[name]

    def check_rails(self) -> list[RailResult]:
        return [rail.check(self) for rail in self.guard_rails]


def read_frame(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> pd.DataFrame:
    """A query's result as a DataFrame (numeric columns as float, dates/timestamps as pandas types)."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        cols = [d.name for d in cur.description]
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    for i in range(frame.shape[1]):  # by position: a query may repeat a column name (e.g. two "sum")
        column = frame.iloc[:, i]
        if column.dtype == object and len(frame) and _is_decimal(column):
            frame.isetitem(i, column.astype(float))
    return frame


def _is_decimal(series: pd.Series) -> bool:
    from decimal import Decimal

    first = series.dropna()
    return bool(len(first)) and isinstance(first.iloc[0], Decimal)


def _pg_type(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz"
    return "text"


def replace_table(
    conn: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    column_types: dict[str, str] | None = None,
) -> int:
    """Atomically replace `schema.table` with `frame` (one transaction: readers see old or new, never
    half). Column types come from the frame's dtypes unless given (e.g. {"snapshot_date": "date"}).
    Returns the number of rows written."""
    schema, name = table.split(".")
    types = {c: (column_types or {}).get(c) or _pg_type(frame[c].dtype) for c in frame.columns}
    target = sql.Identifier(schema, name)
    cols = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in types.items()
    )
    with conn.transaction():
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        conn.execute(sql.SQL("create table {} ({})").format(target, cols))
        if len(frame):
            copy = sql.SQL("copy {} ({}) from stdin").format(
                target, sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
            )
            with conn.cursor().copy(copy) as cp:
                for row in frame.itertuples(index=False, name=None):
                    cp.write_row([_plain(v) for v in row])
    return len(frame)


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def to_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
