"""Data-driven attribution: fit the Markov chain and the Shapley value function on all journeys, then
split each attributed order's one conversion and its revenue over the channels of its journey; beside
that, the Markov chain's channel-level figures in the form other tools publish.

Why per journey: the Markov removal effects and the Shapley values are weights between channels; each
converting journey gives its conversion to its own channels in proportion to those weights, so the
credits of every method sum exactly to the attributed orders and their revenue (like the heuristic
models in marts.fct_attribution), a high-value order credits the channels it actually went through,
and a channel's credit can be split further over its touches' campaigns.

Methods (the `method` column of ml.attribution_data_driven):
- `markov`: per journey, in proportion to the channels' removal effects;
- `shapley`: per journey, in proportion to the positive Shapley values of the journey's own channel
  set. Exact Shapley takes 2^n coalitions of the journey's n distinct channels, so a journey with more
  than `max_shapley_channels` distinct channels is split as under `markov` instead (its conversion is
  still credited, so the method's totals stay the attributed orders; the count of such journeys is in
  the evaluation's metrics, `shapley_fallback_journeys`);
- `markov_channel_level`: the standard form, total conversions x RE(c) / sum of RE (revenue alike,
  total revenue x RE(c) / sum of RE) over every channel of the chain, with no campaign (campaign_id
  null): the figure other tools publish, for comparison; it credits a channel for the journeys it
  helps reach conversion, not only those it was part of.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ml.attribution.markov import MarkovChain, fit_chain
from ml.attribution.paths import TrainingSet, build_training_set
from ml.attribution.shapley import coalition_rates, credit_shares
from ml.core import to_date

JOURNEY_METHODS = ("markov", "shapley")  # credit split within each converting journey
CHANNEL_LEVEL = "markov_channel_level"  # total conversions x RE share (no journey, no campaign)
METHODS = (*JOURNEY_METHODS, CHANNEL_LEVEL)


@dataclass(frozen=True)
class Params:
    lookback_days: int = 30  # a non-converting journey spans at most this (dbt's attribution lookback)
    max_shapley_channels: int = 12  # per journey: exact Shapley takes 2^n coalitions of its n channels
    holdout_days: int = 60  # evaluate: journeys ending in the last days before as_of are held out


@dataclass
class AttributionModel:
    as_of: dt.date
    chain: MarkovChain
    removal_effects: dict[str, float]
    # conversion rate per observed channel set of at most max_shapley_channels channels
    coalition_values: dict[frozenset[str], float] = field(default_factory=dict)
    max_shapley_channels: int = 12

    @property
    def methods(self) -> tuple[str, ...]:
        return METHODS

    def shapley_fits(self, channels: frozenset[str]) -> bool:
        """Whether a journey with these distinct channels gets Shapley credit (else the Markov split)."""
        return len(channels) <= self.max_shapley_channels


def train(training_set: TrainingSet, params: Params | None = None) -> AttributionModel:
    """The transition matrix, removal effects and coalition conversion rates of all journeys (only
    the channel sets within the per-journey Shapley limit: no other set is ever looked up)."""
    params = params or Params()
    paths = training_set.paths
    chain = fit_chain(zip(paths["channels"], paths["converted"], strict=True))
    values = coalition_rates(
        zip(paths["channels"].map(frozenset), paths["converted"], strict=True),
        max_channels=params.max_shapley_channels,
    )
    return AttributionModel(
        as_of=training_set.as_of,
        chain=chain,
        removal_effects=chain.removal_effects(),
        coalition_values=values,
        max_shapley_channels=params.max_shapley_channels,
    )


def markov_shares(channels: frozenset[str], removal_effects: dict[str, float]) -> dict[str, float]:
    """One journey's conversion split in proportion to its channels' removal effects."""
    weights = {c: max(removal_effects.get(c, 0.0), 0.0) for c in channels}
    total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(channels, 1.0 / len(channels))
    return {c: w / total for c, w in weights.items()}


def shapley_fallback(model: AttributionModel, training_set: TrainingSet) -> pd.DataFrame:
    """The converting journeys over the Shapley limit (path_id, channels = distinct count, revenue):
    under `shapley` they are split as under `markov`."""
    conv = training_set.paths[training_set.paths["converted"]]
    sets = conv["channels"].map(frozenset)
    over = ~sets.map(model.shapley_fits).astype(bool)
    return pd.DataFrame(
        {"path_id": conv["path_id"][over], "channels": sets[over].map(len), "revenue": conv["revenue"][over]}
    )


def touch_credits(model: AttributionModel, training_set: TrainingSet) -> pd.DataFrame:
    """method, path_id, channel, campaign_id, conversions, revenue_credit per converting touch for
    the per-journey methods: the channel's share of its journey, split evenly over the channel's
    touches in that journey."""
    conv = training_set.paths[training_set.paths["converted"]]
    sets = conv["channels"].map(frozenset)
    revenue = dict(zip(conv["path_id"], conv["revenue"], strict=True))
    touches = training_set.touches
    per_channel = touches.groupby(["path_id", "channel"])["touch_number"].transform("count")
    frames = []
    for method in JOURNEY_METHODS:
        cache: dict[frozenset[str], dict[str, float]] = {}
        rows = []
        for path_id, key in zip(conv["path_id"], sets, strict=True):
            if key not in cache:
                cache[key] = (
                    credit_shares(key, model.coalition_values)
                    if method == "shapley" and model.shapley_fits(key)
                    else markov_shares(key, model.removal_effects)
                )
            rows += [(path_id, c, s) for c, s in cache[key].items()]
        shares = pd.DataFrame(rows, columns=["path_id", "channel", "share"])
        credited = touches.assign(n=per_channel).merge(shares, on=["path_id", "channel"], how="inner")
        credited["conversions"] = credited["share"] / credited["n"]
        credited["revenue_credit"] = credited["conversions"] * credited["path_id"].map(revenue)
        frames.append(credited.assign(method=method))
    cols = ["method", "path_id", "channel", "campaign_id", "conversions", "revenue_credit"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def channel_level_credits(model: AttributionModel, training_set: TrainingSet) -> pd.DataFrame:
    """The standard form of Markov attribution, per channel of the chain with a positive removal
    effect: conversions = total conversions x RE(c) / sum RE, revenue_credit = total revenue x the
    same share; campaign_id and path_id null (it is no split of any journey)."""
    conv = training_set.paths[training_set.paths["converted"]]
    effects = {c: max(v, 0.0) for c, v in model.removal_effects.items()}
    total = sum(effects.values())
    if total <= 0:  # no channel changes the conversion probability: equal shares
        effects, total = dict.fromkeys(effects, 1.0), float(len(effects))
    shares = pd.Series({c: v / total for c, v in effects.items() if v > 0}, dtype=float)
    return pd.DataFrame(
        {
            "method": CHANNEL_LEVEL,
            "path_id": None,
            "channel": shares.index,
            "campaign_id": None,
            "conversions": shares.to_numpy() * float(len(conv)),
            "revenue_credit": shares.to_numpy() * float(conv["revenue"].sum()),
        }
    )


def all_credits(model: AttributionModel, training_set: TrainingSet) -> pd.DataFrame:
    """Every method's credit rows: the per-journey touches (with their order's UTC conversion date)
    and the channel-level figures (no date: they split no journey)."""
    conv = training_set.paths[training_set.paths["converted"]]
    dates = dict(zip(conv["path_id"], pd.to_datetime(conv["ended_at"], utc=True).dt.date, strict=True))
    touches = touch_credits(model, training_set)
    touches = touches.assign(conversion_date=touches["path_id"].map(dates))
    level = channel_level_credits(model, training_set).assign(conversion_date=None)
    return pd.concat([touches, level], ignore_index=True)


COLUMN_TYPES = {
    "method": "text",
    "conversion_date": "date",  # the order's UTC date; null for markov_channel_level (no journey split)
    "channel": "text",
    "campaign_id": "text",
    "conversions": "double precision",
    "revenue_credit": "double precision",
}
KEYS = ["method", "conversion_date", "channel", "campaign_id"]


def aggregate(credits: pd.DataFrame) -> pd.DataFrame:
    """Credits summed per method x conversion date x channel x campaign (the long mart's grain)."""
    if "conversion_date" not in credits:
        credits = credits.assign(conversion_date=None)
    out = credits.groupby(KEYS, dropna=False, as_index=False)[["conversions", "revenue_credit"]].sum()
    for key in ("campaign_id", "conversion_date"):
        out[key] = out[key].astype(object).where(out[key].notna(), None)
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
    """Rows of ml.attribution_data_driven for every order before as_of: per (method, conversion_date,
    channel, campaign_id) the conversions and revenue credited (conversion_date and campaign_id null for
    `markov_channel_level`).
    The table has no version column, so `model_version` is accepted for the shared signature only."""
    params = params or Params()
    training_set = build_training_set(conn, to_date(as_of), params)
    return aggregate(all_credits(model, training_set))
