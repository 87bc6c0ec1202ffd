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


@dataclass
class Evaluation:
    """Metrics of a candidate model and of its baseline, measured on the same held-out split."""

    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    primary_metric: str
    higher_is_better: bool = True
    baseline_name: str = ""
    split: dict[str, Any] = field(default_factory=dict)  # e.g. train/validation windows and row counts
    extra_markdown: str = ""  # calibration table, backtest plot... shown as asset metadata

    def beats_baseline(self) -> bool:
        m, b = self.metrics[self.primary_metric], self.baseline_metrics[self.primary_metric]
        return m > b if self.higher_is_better else m < b


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
