"""Data-driven attribution: Markov removal effects and Shapley values against hand-computed values,
journey windows, credit conservation, and build -> train -> evaluate -> predict on the tiny shop."""

from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import attribution
from ml.attribution.markov import fit_chain
from ml.attribution.model import markov_shares, touch_credits
from ml.attribution.paths import TrainingSet, split_windows
from ml.attribution.shapley import coalition_rates, credit_shares, shapley_values
from ml.core import read_frame, replace_table

F = frozenset


def test_markov_removal_effect_on_a_hand_computed_path_set():
    # START->A 2/3, START->B 1/3; A->B 1/2, A->null 1/2; B->conv 1
    chain = fit_chain([(("A", "B"), True), (("A",), False), (("B",), True)])
    assert chain.conversion_probability() == pytest.approx(2 / 3)  # = the observed rate
    assert chain.conversion_probability(removed="A") == pytest.approx(1 / 3)
    assert chain.conversion_probability(removed="B") == pytest.approx(0.0)
    effects = chain.removal_effects()
    assert effects == pytest.approx({"A": 0.5, "B": 1.0})
    assert markov_shares(F({"A", "B"}), effects) == pytest.approx({"A": 1 / 3, "B": 2 / 3})


def test_markov_handles_loops_and_repeats():
    # A->A->B conv, B->A null: absorbing probabilities stay in [0, 1] and match the observed rate
    chain = fit_chain([(("A", "A", "B"), True), (("B", "A"), False), (("A",), True), (("B",), False)])
    assert chain.conversion_probability() == pytest.approx(0.5)
    assert all(0 <= v <= 1 for v in chain.removal_effects().values())


def test_shapley_two_channels_by_hand():
    paths = [(F("A"), i < 2) for i in range(10)] + [(F("B"), i < 4) for i in range(10)]
    paths += [(F({"A", "B"}), i < 4) for i in range(5)]
    values = coalition_rates(paths)
    assert values == pytest.approx({F("A"): 0.2, F("B"): 0.4, F({"A", "B"}): 0.8})
    # phi_A = 1/2 (0.2 - 0) + 1/2 (0.8 - 0.4) = 0.3, phi_B = 1/2 (0.4) + 1/2 (0.8 - 0.2) = 0.5
    assert shapley_values(F({"A", "B"}), values) == pytest.approx({"A": 0.3, "B": 0.5})
    assert credit_shares(F({"A", "B"}), values) == pytest.approx({"A": 0.375, "B": 0.625})


def test_shapley_three_channels_by_hand():
    v = {F("A"): 0.1, F("B"): 0.2, F({"A", "B"}): 0.4, F({"A", "C"}): 0.3, F({"B", "C"}): 0.2}
    v[F({"A", "B", "C"})] = 0.6  # {C} never seen -> 0
    # phi_A = 1/3*0.1 + 1/6*(0.4-0.2) + 1/6*(0.3-0) + 1/3*(0.6-0.2) = 0.25; phi_B = 0.25; phi_C = 0.1
    assert shapley_values(F("ABC"), v) == pytest.approx({"A": 0.25, "B": 0.25, "C": 0.1})
    assert sum(credit_shares(F("ABC"), v).values()) == pytest.approx(1.0)


def test_shapley_gives_no_negative_credit():
    v = {F("A"): 0.5, F("B"): 0.0, F({"A", "B"}): 0.3}  # B lowers the rate: phi_B = -0.1
    assert shapley_values(F("AB"), v) == pytest.approx({"A": 0.4, "B": -0.1})
    assert credit_shares(F("AB"), v) == pytest.approx({"A": 1.0, "B": 0.0})


def test_open_journeys_are_cut_at_the_lookback_window():
    visitor = np.array(["a", "a", "a", "a", "b"])
    start = np.array(
        ["2025-01-01", "2025-01-20", "2025-01-31T01", "2025-02-02", "2025-02-02"], dtype="datetime64[ms]"
    )
    assert split_windows(visitor, start, np.timedelta64(30, "D")).tolist() == [0, 0, 1, 1, 2]


def synthetic_set() -> TrainingSet:
    paths = pd.DataFrame(
        {
            "path_id": ["o1", "o2", "o3", "n1", "n2", "n3"],
            "channels": [
                ("Paid Social", "Email", "Paid Social"),
                ("Direct",),
                ("Email", "Direct"),
                ("Paid Social",),
                ("Direct",),
                ("Email", "Paid Social"),
            ],
            "converted": [True, True, True, False, False, False],
            "revenue": [120.0, 30.0, 50.0, 0.0, 0.0, 0.0],
            "ended_at": pd.to_datetime(
                ["2025-03-01", "2025-03-02", "2025-03-20", "2025-03-03", "2025-03-21", "2025-03-22"], utc=True
            ),
        }
    )
    touches = pd.DataFrame(
        {
            "path_id": ["o1", "o1", "o1", "o2", "o3", "o3"],
            "touch_number": [1, 2, 3, 1, 1, 2],
            "channel": ["Paid Social", "Email", "Paid Social", "Direct", "Email", "Direct"],
            "campaign_id": ["c1", None, "c2", None, None, None],
        }
    )
    return TrainingSet(as_of=dt.date(2025, 4, 1), paths=paths, touches=touches)


def test_credits_are_conserved_per_journey_and_in_total():
    ts = synthetic_set()
    model = attribution.train(ts)
    credits = touch_credits(model, ts)
    assert set(credits["method"]) == {"markov", "shapley"}
    per_path = credits.groupby(["method", "path_id"])[["conversions", "revenue_credit"]].sum()
    assert per_path["conversions"].to_numpy() == pytest.approx(1.0)
    revenue = ts.paths.set_index("path_id")["revenue"]
    assert per_path["revenue_credit"].to_numpy() == pytest.approx(
        revenue.reindex(per_path.index.get_level_values(1)).to_numpy()
    )
    # o1's Paid Social share is split evenly over its two campaign touches
    o1 = credits[
        (credits["path_id"] == "o1") & (credits["channel"] == "Paid Social") & (credits["method"] == "markov")
    ]
    assert o1["campaign_id"].tolist() == ["c1", "c2"] and o1["conversions"].iloc[0] == pytest.approx(
        o1["conversions"].iloc[1]
    )
    rows = attribution.model.aggregate(credits)
    totals = rows.groupby("method")[["conversions", "revenue_credit"]].sum()
    assert totals["conversions"].to_numpy() == pytest.approx(3.0)
    assert totals["revenue_credit"].to_numpy() == pytest.approx(200.0)


def test_shapley_is_skipped_above_the_channel_limit():
    ts = synthetic_set()
    model = attribution.train(ts, attribution.Params(max_shapley_channels=2))
    assert model.methods == ("markov",)
    assert set(touch_credits(model, ts)["method"]) == {"markov"}


# --- on the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as connection:
        yield connection


@pytest.fixture(scope="module")
def as_of(tiny_world) -> dt.date:
    return dt.date.fromisoformat(json.loads((tiny_world / "world.json").read_text())["end_date"])


def test_end_to_end_on_tiny(conn, as_of):
    params = attribution.Params(holdout_days=45)
    ts = attribution.build_training_set(conn, as_of, params)
    assert ts.paths["converted"].any() and (~ts.paths["converted"]).any()
    assert (ts.paths["ended_at"] < pd.Timestamp(as_of, tz="UTC")).all()
    model = pickle.loads(pickle.dumps(attribution.train(ts, params)))
    assert all(0 <= v <= 1 for v in model.removal_effects.values())

    evaluation = attribution.evaluate(model, ts, params)
    assert evaluation.primary_metric == "holdout_auc" and evaluation.baseline_name == "last_touch"
    assert (
        0 <= evaluation.metrics["holdout_auc"] <= 1 and 0 <= evaluation.baseline_metrics["holdout_auc"] <= 1
    )
    for method in model.methods:
        assert evaluation.metrics[f"{method}_conversions_error"] < 1e-9
        assert evaluation.metrics[f"{method}_revenue_error"] < 1e-9

    out = attribution.predict(model, conn, as_of, params, model_version="v-test")
    assert list(out.columns) == list(attribution.COLUMN_TYPES)
    assert set(out["method"]) == set(model.methods) == {"markov", "shapley"}
    assert (out["conversions"] >= 0).all()
    truth = read_frame(
        conn,
        "select count(distinct order_id) as n, sum(revenue_credit) as revenue from marts.fct_attribution "
        "where model = 'last_touch'",
    )
    totals = out.groupby("method")[["conversions", "revenue_credit"]].sum()
    assert totals["conversions"].to_numpy() == pytest.approx(truth["n"].iloc[0])
    assert totals["revenue_credit"].to_numpy() == pytest.approx(truth["revenue"].iloc[0])

    written = replace_table(conn, attribution.OUTPUT_TABLE, out, attribution.COLUMN_TYPES)
    conn.commit()
    back = read_frame(conn, "select method, sum(conversions) as c from ml.attribution_data_driven group by 1")
    assert written == len(out) and back["c"].to_numpy() == pytest.approx(truth["n"].iloc[0])
