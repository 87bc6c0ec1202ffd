"""How data-driven attribution is judged against last-touch, without pretending to know true credit.

Nothing in the data says which channel truly caused an order, so no metric here proves the credits
right. What can be measured honestly:

1. a held-out check of the model's premise: the channel-set conversion rates (the Shapley value
   function), fitted on journeys that ended before `as_of - holdout_days`, rank the later journeys
   by conversion (ROC AUC, log loss) - against last-touch's view of a journey, the conversion rate of
   its last channel. This is the primary metric: if knowing the whole journey does not predict
   conversion better than its last touch, a multi-touch model has nothing to add. (The first-order
   Markov chain's own P(conversion | journey) depends only on the last state, i.e. equals the
   baseline, so it is not scored this way.)
2. credit conservation: each method's conversions and revenue against the attributed orders' count
   and revenue (relative error; last-touch is exact by construction);
3. how far each method moves channel shares from last-touch (max absolute share delta), with the
   per-channel table in the markdown; `markov_channel_level` (total conversions x RE share, the form
   other tools publish) is one more column beside the per-journey `markov` split;
4. how many converting journeys exceed the per-journey Shapley limit and are split as under Markov
   within `shapley` (`shapley_fallback_journeys`, and their share of orders and revenue).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.attribution.model import AttributionModel, Params, aggregate, all_credits, shapley_fallback
from ml.attribution.paths import TrainingSet
from ml.attribution.shapley import coalition_rates
from ml.core import Evaluation


def last_touch_credits(training_set: TrainingSet) -> pd.DataFrame:
    """Baseline: each conversion and its revenue to the journey's last touch."""
    conv = training_set.paths[training_set.paths["converted"]]
    last = training_set.touches.sort_values("touch_number").groupby("path_id").tail(1)
    last = last.merge(conv[["path_id", "revenue"]], on="path_id")
    return pd.DataFrame(
        {
            "method": "last_touch",
            "path_id": last["path_id"],
            "channel": last["channel"],
            "campaign_id": last["campaign_id"],
            "conversions": 1.0,
            "revenue_credit": last["revenue"],
        }
    )


def holdout_scores(training_set: TrainingSet, params: Params) -> dict[str, dict[str, float]]:
    """Held-out conversion ranking of channel-set rates (model) vs last-channel rates (baseline)."""
    paths = training_set.paths
    cutoff = pd.Timestamp(training_set.as_of - dt.timedelta(days=params.holdout_days), tz="UTC")
    fit, test = paths[paths["ended_at"] < cutoff], paths[paths["ended_at"] >= cutoff]
    y = test["converted"].astype(int).to_numpy()
    if len(fit) == 0 or len(np.unique(y)) < 2:
        return {}
    prior = float(fit["converted"].mean())
    sets = coalition_rates(zip(fit["channels"].map(frozenset), fit["converted"], strict=True))
    last = fit.assign(last=fit["channels"].map(lambda c: c[-1])).groupby("last")["converted"].mean()
    p_model = test["channels"].map(lambda c: sets.get(frozenset(c), prior)).to_numpy(dtype=float)
    p_base = test["channels"].map(lambda c: last.get(c[-1], prior)).to_numpy(dtype=float)

    def score(p: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import log_loss, roc_auc_score  # here: the code location loads without sklearn

        p = np.clip(p, 1e-6, 1 - 1e-6)
        return {"holdout_auc": float(roc_auc_score(y, p)), "holdout_log_loss": float(log_loss(y, p))}

    return {"model": score(p_model), "baseline": score(p_base), "split": {"fit": len(fit), "test": len(test)}}


def shares(credits: pd.DataFrame) -> pd.Series:
    by = credits.groupby("channel")["conversions"].sum()
    return by / by.sum() if by.sum() else by


def evaluate(model: AttributionModel, training_set: TrainingSet, params: Params | None = None) -> Evaluation:
    params = params or Params()
    conv = training_set.paths[training_set.paths["converted"]]
    n_orders, revenue = float(len(conv)), float(conv["revenue"].sum())
    credits = all_credits(model, training_set)
    fallback = shapley_fallback(model, training_set)
    base = last_touch_credits(training_set)
    held = holdout_scores(training_set, params)

    def conservation(c: pd.DataFrame) -> dict[str, float]:
        return {
            "conversions_error": float(abs(c["conversions"].sum() - n_orders) / n_orders)
            if n_orders
            else 0.0,
            "revenue_error": float(abs(c["revenue_credit"].sum() - revenue) / revenue) if revenue else 0.0,
        }

    metrics = dict(held.get("model", {}))
    baseline = dict(held.get("baseline", {}))
    base_share = shares(base)
    table = pd.DataFrame({"last_touch": base_share})
    for method in model.methods:
        part = credits[credits["method"] == method]
        for k, v in conservation(part).items():
            metrics[f"{method}_{k}"] = v
        s = shares(part)
        table[method] = s
        delta = s.reindex(base_share.index.union(s.index), fill_value=0) - base_share.reindex(
            base_share.index.union(s.index), fill_value=0
        )
        metrics[f"{method}_max_abs_share_delta"] = float(delta.abs().max())
    for k, v in conservation(base).items():
        baseline[f"last_touch_{k}"] = v
    metrics["shapley_fallback_journeys"] = float(len(fallback))
    metrics["shapley_fallback_order_share"] = len(fallback) / n_orders if n_orders else 0.0
    metrics["shapley_fallback_revenue_share"] = float(fallback["revenue"].sum()) / revenue if revenue else 0.0
    table["removal_effect"] = pd.Series(model.removal_effects)
    return Evaluation(
        metrics=metrics,
        baseline_metrics=baseline,
        primary_metric="holdout_auc",
        higher_is_better=True,
        baseline_name="last_touch",
        split={
            "holdout_days": params.holdout_days,
            "journeys": len(training_set.paths),
            "converting_journeys": int(n_orders),
            "channels": len(model.chain.channels),
            "max_shapley_channels": model.max_shapley_channels,
            "max_journey_channels": max((len(set(c)) for c in conv["channels"]), default=0),
            **held.get("split", {}),
        },
        extra_markdown=_markdown(table.fillna(0.0), aggregate(credits), base, len(fallback), model),
    )


def _markdown(
    table: pd.DataFrame, credits: pd.DataFrame, base: pd.DataFrame, fallback: int, model: AttributionModel
) -> str:
    cols = list(table.columns)
    lines = ["| channel | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for channel, row in table.sort_values("last_touch", ascending=False).iterrows():
        lines.append(f"| {channel} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    lines += ["", "Conversion shares per channel (removal effect: the Markov chain's relative drop in"]
    lines += ["conversion probability without the channel). markov and shapley split each journey's"]
    lines += ["conversion over its own channels; markov_channel_level = total conversions x RE / sum RE,"]
    lines += ["the channel-level form other tools publish."]
    lines += [
        "",
        f"Journeys over the Shapley limit ({model.max_shapley_channels} distinct channels), split as "
        f"under Markov within shapley: {fallback}.",
    ]
    revenue = credits.groupby(["method", "channel"])["revenue_credit"].sum().unstack("method")
    revenue["last_touch"] = base.groupby("channel")["revenue_credit"].sum()
    lines += [
        "",
        "| channel | " + " | ".join(revenue.columns) + " |",
        "|---|" + "---|" * len(revenue.columns),
    ]
    for channel, row in revenue.fillna(0.0).iterrows():
        lines.append(f"| {channel} | " + " | ".join(f"{row[c]:,.0f}" for c in revenue.columns) + " |")
    lines += ["", "Revenue credit per channel."]
    return "\n".join(lines)
