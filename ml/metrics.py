"""Metrics shared by the churn classifier and the LTV regressor, so model and baseline are always
measured by the same code. Thin wrappers over scikit-learn / SciPy where those exist; the business
metrics (top-decile lift, aggregate error, top-decile revenue share) are defined here once.

"Top decile" everywhere means the first ceil(10 %) of rows when sorted by score, highest first (a
stable sort, so ties keep their input order) — a fixed number of rows, as a campaign list would be.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# scikit-learn and scipy.stats are imported inside the functions that use them: ml.churn and ml.ltv
# import this module, and the code location (and every run worker) imports those packages to read
# their Params, which must not cost the seconds these libraries take to load.


def _arrays(*values) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=float) for v in values]
    if len({len(v) for v in out}) != 1 or not len(out[0]):
        raise ValueError("metric inputs must be non-empty and of equal length")
    return out


def _top_decile(score: np.ndarray) -> np.ndarray:
    """Indices of the top ceil(10 %) rows by score (stable on ties)."""
    n_top = max(1, math.ceil(len(score) * 0.1))
    return np.argsort(-score, kind="stable")[:n_top]


# --- classification -------------------------------------------------------------------------------


def roc_auc(y_true, y_score) -> float:
    from sklearn import metrics as skm

    y, s = _arrays(y_true, y_score)
    return float(skm.roc_auc_score(y, s))


def pr_auc(y_true, y_score) -> float:
    """Area under the precision-recall curve, as average precision (the step-wise estimate that does
    not interpolate optimistically)."""
    from sklearn import metrics as skm

    y, s = _arrays(y_true, y_score)
    return float(skm.average_precision_score(y, s))


def brier(y_true, y_prob) -> float:
    from sklearn import metrics as skm

    y, p = _arrays(y_true, y_prob)
    return float(skm.brier_score_loss(y, p))


def lift_top_decile(y_true, y_score) -> float:
    """Positive rate among the top-decile scores divided by the overall positive rate."""
    y, s = _arrays(y_true, y_score)
    base = y.mean()
    if base == 0:
        raise ValueError("lift is undefined without positives")
    return float(y[_top_decile(s)].mean() / base)


def calibration_table(y_true, y_prob, bins: int = 10) -> pd.DataFrame:
    """Rows grouped into `bins` equal-count bins of predicted probability (lowest first): row count,
    mean predicted probability and observed positive rate per bin."""
    y, p = _arrays(y_true, y_prob)
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    return pd.DataFrame(
        [
            {"bin": i + 1, "rows": len(g), "mean_predicted": p[g].mean(), "observed_rate": y[g].mean()}
            for i, g in enumerate(groups)
            if len(g)
        ]
    )


def expected_calibration_error(y_true, y_prob, bins: int = 10) -> float:
    """ECE over `bins` equal-count bins of predicted probability (those of `calibration_table`): the
    row-weighted mean of |mean predicted - observed positive rate| per bin. 0 = every bin's average
    probability came true; equal-count bins, so a crowded probability range is not one coarse bin.

    On few rows it is never 0 even for a perfectly calibrated model (each bin's observed rate is a
    binomial draw): compare models on the same rows, not against zero."""
    table = calibration_table(y_true, y_prob, bins)
    gaps = (table["mean_predicted"] - table["observed_rate"]).abs()
    return float((table["rows"] * gaps).sum() / table["rows"].sum())


# --- regression -----------------------------------------------------------------------------------


def mae(y_true, y_pred) -> float:
    from sklearn import metrics as skm

    y, p = _arrays(y_true, y_pred)
    return float(skm.mean_absolute_error(y, p))


def rmse(y_true, y_pred) -> float:
    from sklearn import metrics as skm

    y, p = _arrays(y_true, y_pred)
    return float(math.sqrt(skm.mean_squared_error(y, p)))


def aggregate_error(y_true, y_pred) -> float:
    """|Σ predicted − Σ actual| / Σ actual: how far off the total (e.g. next year's revenue) is."""
    y, p = _arrays(y_true, y_pred)
    total = y.sum()
    if total == 0:
        raise ValueError("aggregate error is undefined when the actual total is zero")
    return float(abs(p.sum() - total) / abs(total))


def spearman(y_true, y_pred) -> float:
    from scipy import stats

    y, p = _arrays(y_true, y_pred)
    return float(stats.spearmanr(y, p).statistic)


def top_decile_revenue_share(y_true, y_pred) -> float:
    """Share of the actual total captured by the rows in the top decile of predictions."""
    y, p = _arrays(y_true, y_pred)
    total = y.sum()
    if total == 0:
        raise ValueError("revenue share is undefined when the actual total is zero")
    return float(y[_top_decile(p)].sum() / total)


def classification_report(y_true, y_prob) -> dict[str, float]:
    return {
        "roc_auc": roc_auc(y_true, y_prob),
        "pr_auc": pr_auc(y_true, y_prob),
        "brier": brier(y_true, y_prob),
        "ece": expected_calibration_error(y_true, y_prob),
        "lift_top_decile": lift_top_decile(y_true, y_prob),
    }


def regression_report(y_true, y_pred) -> dict[str, float]:
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "aggregate_error": aggregate_error(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
        "top_decile_revenue_share": top_decile_revenue_share(y_true, y_pred),
    }
