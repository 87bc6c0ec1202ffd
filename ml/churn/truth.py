"""Scoring today's churn scores against the simulated shop's ground truth (never read by the pipeline).

Which truth label: the truth file has each customer's latent dropout date (`true_churn_date`, null when
still alive a year after end_date) and aggregates of the next 12 months (`next_12m_orders`). It has no
order-level future, so "no order in the next 90 days" itself cannot be rebuilt. The closest it supports
is `true_churn_date < end_date + horizon_days`: the customer has dropped out by the end of the same
horizon, after which no order can happen — the state our observable label is a noisy proxy for, at the
same horizon. We also report AUC against `next_12m_orders == 0` (observable and exact, but a 365-day
horizon), so neither choice hides the other.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import psycopg

from ml import metrics
from ml.churn.features import feature_matrix
from ml.churn.model import ChurnModel, Params, predict, scoring_rows


def load_truth(world_dir: Path | str) -> tuple[pd.DataFrame, dt.date]:
    world_dir = Path(world_dir)
    end_date = dt.date.fromisoformat(json.loads((world_dir / "world.json").read_text())["end_date"])
    truth = pd.read_parquet(world_dir / "truth" / "customers_truth.parquet")
    return truth, end_date


def score_against_truth(
    conn: psycopg.Connection, world_dir: Path | str, model: ChurnModel, params: Params | None = None
) -> dict:
    """ROC AUC of the churn scores as of end_date vs the recency baseline, on the truth labels."""
    params = params or Params()
    truth, end_date = load_truth(world_dir)
    scores = predict(model, conn, end_date, params)
    rows = scoring_rows(conn, end_date, params)
    baseline = pd.Series(
        model.baseline_probability(feature_matrix(rows, model.feature_names)), index=rows["customer_id"]
    )
    churn_date = pd.to_datetime(truth["true_churn_date"]).dt.date
    cutoff = end_date + dt.timedelta(days=params.horizon_days)
    truth = truth.assign(
        churned_in_horizon=churn_date.map(lambda d: d is not None and not pd.isna(d) and d < cutoff).astype(
            int
        ),
        no_order_12m=(truth["next_12m_orders"] == 0).astype(int),
    )
    joined = scores.merge(truth, on="customer_id", how="inner")
    joined["baseline_probability"] = baseline.reindex(joined["customer_id"]).to_numpy()
    result = {
        "as_of": str(end_date),
        "scored_customers": len(scores),
        "matched_truth": len(joined),
        "label": f"true_churn_date < end_date + {params.horizon_days} days",
        "churn_rate": float(joined["churned_in_horizon"].mean()),
    }
    for name, label in (("", "churned_in_horizon"), ("no_order_12m_", "no_order_12m")):
        result[f"{name}roc_auc"] = metrics.roc_auc(joined[label], joined["churn_probability"])
        result[f"{name}baseline_roc_auc"] = metrics.roc_auc(joined[label], joined["baseline_probability"])
    result["target_met"] = bool(
        result["roc_auc"] >= 0.80 and result["roc_auc"] >= result["baseline_roc_auc"] + 0.03
    )
    return result
