"""Scoring today's LTV predictions against the simulated shop's true next-12-month net revenue
(`truth/customers_truth.parquet`, never read by the pipeline). The truth horizon is 365 days, so the
comparison is meaningful for `horizon_days=365` (the default); the result says which horizon was used.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import psycopg

from ml import metrics
from ml.ltv.model import LtvModel, Params, predict


def score_against_truth(
    conn: psycopg.Connection, world_dir: Path | str, model: LtvModel, params: Params | None = None
) -> dict:
    """Model and BG/NBD predictions as of end_date vs `next_12m_net_revenue`."""
    params = params or Params()
    world_dir = Path(world_dir)
    end_date = dt.date.fromisoformat(json.loads((world_dir / "world.json").read_text())["end_date"])
    truth = pd.read_parquet(world_dir / "truth" / "customers_truth.parquet")
    truth["actual"] = truth["next_12m_net_revenue"].astype(float)
    predictions = predict(model, conn, end_date, params)
    joined = predictions.merge(truth[["customer_id", "actual"]], on="customer_id", how="inner")
    model_metrics = metrics.regression_report(joined["actual"], joined["predicted_ltv"])
    baseline_metrics = metrics.regression_report(joined["actual"], joined["bgnbd_ltv"])
    return {
        "as_of": str(end_date),
        "snapshot_date": str(predictions["snapshot_date"].max()) if len(predictions) else None,
        "horizon_days": params.horizon_days,
        "trained_on_horizon_days": model.train_horizon_days,
        "bridged": model.train_horizon_days != model.horizon_days,
        "predicted_customers": len(predictions),
        "matched_truth": len(joined),
        "actual_total": float(joined["actual"].sum()),
        "predicted_total": float(joined["predicted_ltv"].sum()),
        "bgnbd_total": float(joined["bgnbd_ltv"].sum()),
        **model_metrics,
        **{f"baseline_{k}": v for k, v in baseline_metrics.items()},
        "target_met": bool(
            model_metrics["aggregate_error"] <= 0.10 and model_metrics["mae"] < baseline_metrics["mae"]
        ),
    }
