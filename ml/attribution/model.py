"""Data-driven attribution: fit the Markov chain and the Shapley value function on all journeys, then
split each attributed order's one conversion and its revenue over the channels of its journey.

Why per journey: the Markov removal effects and the Shapley values are weights between channels; each
converting journey gives its conversion to its own channels in proportion to those weights, so the
credits of every method sum exactly to the attributed orders and their revenue (like the heuristic
models in marts.fct_attribution), a high-value order credits the channels it actually went through,
and a channel's credit can be split further over its touches' campaigns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ml.attribution.markov import MarkovChain, fit_chain
from ml.attribution.paths import TrainingSet, build_training_set
from ml.attribution.shapley import coalition_rates, credit_shares
from ml.core import to_date

METHODS = ("markov", "shapley")


@dataclass(frozen=True)
class Params:
    lookback_days: int = 30  # a non-converting journey spans at most this (dbt's attribution lookback)
    max_shapley_channels: int = 12  # exact Shapley enumerates 2^n coalitions: skip it above this
    holdout_days: int = 60  # evaluate: journeys ending in the last days before as_of are held out


@dataclass
class AttributionModel:
    as_of: dt.date
    chain: MarkovChain
    removal_effects: dict[str, float]
    coalition_values: dict[frozenset[str], float] = field(default_factory=dict)
    shapley_enabled: bool = True

    @property
    def methods(self) -> tuple[str, ...]:
        return METHODS if self.shapley_enabled else ("markov",)


def train(training_set: TrainingSet, params: Params | None = None) -> AttributionModel:
    """The transition matrix, removal effects and coalition conversion rates of all journeys."""
    params = params or Params()
    paths = training_set.paths
    chain = fit_chain(zip(paths["channels"], paths["converted"], strict=True))
    enabled = len(chain.channels) <= params.max_shapley_channels
    values = (
        coalition_rates(zip(paths["channels"].map(frozenset), paths["converted"], strict=True))
        if enabled
        else {}
    )
    return AttributionModel(
        as_of=training_set.as_of,
        chain=chain,
        removal_effects=chain.removal_effects(),
        coalition_values=values,
        shapley_enabled=enabled,
    )


def markov_shares(channels: frozenset[str], removal_effects: dict[str, float]) -> dict[str, float]:
    """One journey's conversion split in proportion to its channels' removal effects."""
    weights = {c: max(removal_effects.get(c, 0.0), 0.0) for c in channels}
    total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(channels, 1.0 / len(channels))
    return {c: w / total for c, w in weights.items()}


def touch_credits(model: AttributionModel, training_set: TrainingSet) -> pd.DataFrame:
    """method, path_id, channel, campaign_id, conversions, revenue_credit per converting touch: the
    channel's share of its journey, split evenly over the channel's touches in that journey."""
    conv = training_set.paths[training_set.paths["converted"]]
    sets = conv["channels"].map(frozenset)
    revenue = dict(zip(conv["path_id"], conv["revenue"], strict=True))
    touches = training_set.touches
    per_channel = touches.groupby(["path_id", "channel"])["touch_number"].transform("count")
    frames = []
    for method in model.methods:
        cache: dict[frozenset[str], dict[str, float]] = {}
        rows = []
        for path_id, key in zip(conv["path_id"], sets, strict=True):
            if key not in cache:
                cache[key] = (
                    markov_shares(key, model.removal_effects)
                    if method == "markov"
                    else credit_shares(key, model.coalition_values)
                )
            rows += [(path_id, c, s) for c, s in cache[key].items()]
        shares = pd.DataFrame(rows, columns=["path_id", "channel", "share"])
        credited = touches.assign(n=per_channel).merge(shares, on=["path_id", "channel"], how="inner")
        credited["conversions"] = credited["share"] / credited["n"]
        credited["revenue_credit"] = credited["conversions"] * credited["path_id"].map(revenue)
        frames.append(credited.assign(method=method))
    cols = ["method", "path_id", "channel", "campaign_id", "conversions", "revenue_credit"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


COLUMN_TYPES = {
    "method": "text",
    "channel": "text",
    "campaign_id": "text",
    "conversions": "double precision",
    "revenue_credit": "double precision",
}


def aggregate(credits: pd.DataFrame) -> pd.DataFrame:
    out = credits.groupby(["method", "channel", "campaign_id"], dropna=False, as_index=False)[
        ["conversions", "revenue_credit"]
    ].sum()
    out["campaign_id"] = out["campaign_id"].astype(object).where(out["campaign_id"].notna(), None)
    return out.sort_values(["method", "conversions"], ascending=[True, False], ignore_index=True)[
        list(COLUMN_TYPES)
    ]


def predict(
    model: AttributionModel,
    conn,
    as_of: dt.date | str,
    params: Params | None = None,
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    """Rows of ml.attribution_data_driven for every order before as_of: per (method, channel,
    campaign_id) the conversions and revenue credited. The table has no version column, so
    `model_version` is accepted for the shared signature only."""
    params = params or Params()
    training_set = build_training_set(conn, to_date(as_of), params)
    return aggregate(touch_credits(model, training_set))
