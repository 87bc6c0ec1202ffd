"""Data-driven attribution: Markov removal effects (per journey and in the channel-level standard form)
and Shapley values against hand-computed values, the per-journey Shapley limit, journey windows, credit
conservation, and build -> train -> evaluate -> predict on the tiny shop."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from itertools import combinations

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import attribution
from ml.attribution.markov import fit_chain
from ml.attribution.model import (
    CHANNEL_LEVEL,
    all_credits,
    channel_level_credits,
    markov_shares,
    shapley_fallback,
    touch_credits,
)
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
    rows = attribution.model.aggregate(all_credits(model, ts))
    totals = rows.groupby("method")[["conversions", "revenue_credit"]].sum()
    assert set(totals.index) == {"markov", "shapley", CHANNEL_LEVEL}
    assert totals["conversions"].to_numpy() == pytest.approx(3.0)
    assert totals["revenue_credit"].to_numpy() == pytest.approx(200.0)


def journey_set(journeys: list[tuple[tuple[str, ...], bool, float]]) -> TrainingSet:
    """A TrainingSet from (channels, converted, revenue) journeys; converting ones get touches."""
    paths = pd.DataFrame(
        {
            "path_id": [f"p{i}" for i in range(len(journeys))],
            "channels": [j[0] for j in journeys],
            "converted": [j[1] for j in journeys],
            "revenue": [j[2] for j in journeys],
            "ended_at": pd.Timestamp("2025-03-01", tz="UTC"),
        }
    )
    touches = pd.DataFrame(
        [
            (f"p{i}", n + 1, channel, None)
            for i, (channels, converted, _) in enumerate(journeys)
            if converted
            for n, channel in enumerate(channels)
        ],
        columns=["path_id", "touch_number", "channel", "campaign_id"],
    )
    return TrainingSet(as_of=dt.date(2025, 4, 1), paths=paths, touches=touches)


def many_channel_journeys() -> list[tuple[tuple[str, ...], bool, float]]:
    """15 channels overall, no journey with more than 2: v(C00) = 0.2, v(C01) = 0.4, v(both) = 0.8
    (the two-channel game worked by hand above), 13 more channels seen alone."""
    journeys = [(("C00",), i < 2, 10.0 * (i < 2)) for i in range(10)]
    journeys += [(("C01",), i < 4, 10.0 * (i < 4)) for i in range(10)]
    journeys += [(("C00", "C01"), i < 4, 20.0 * (i < 4)) for i in range(5)]
    for k in range(2, 15):
        journeys += [((f"C{k:02d}",), True, 5.0), ((f"C{k:02d}",), False, 0.0)]
    return journeys


def test_shapley_limit_is_per_journey_not_over_all_channels():
    ts = journey_set(many_channel_journeys())
    assert len(ts.channels) == 15 > attribution.Params().max_shapley_channels
    model = attribution.train(ts)
    credits = touch_credits(model, ts)
    shapley = credits[credits["method"] == "shapley"]
    pair = shapley[shapley["path_id"] == "p20"].set_index("channel")["conversions"]  # a C00+C01 journey
    assert pair.to_dict() == pytest.approx({"C00": 0.375, "C01": 0.625})
    assert shapley_fallback(model, ts).empty
    # only the observed channel sets are valued, not 2^15 coalitions
    assert set(model.coalition_values) == {F(j[0]) for j in many_channel_journeys()}
    evaluation = attribution.evaluate(model, ts)
    assert evaluation.metrics["shapley_fallback_journeys"] == 0
    assert evaluation.metrics["shapley_conversions_error"] == pytest.approx(0.0, abs=1e-12)


def test_a_journey_over_the_shapley_limit_is_split_as_under_markov():
    journeys = many_channel_journeys() + [
        (("C00", "C01", "C02"), True, 90.0),
        (("C00", "C02", "C01"), False, 0.0),
    ]
    ts = journey_set(journeys)
    model = attribution.train(ts, attribution.Params(max_shapley_channels=2))
    assert max(len(s) for s in model.coalition_values) == 2  # the 3-channel set is never valued
    credits = touch_credits(model, ts)
    big = credits[credits["path_id"] == f"p{len(journeys) - 2}"]
    by_method = big.pivot_table(index="channel", columns="method", values="conversions", aggfunc="sum")
    assert by_method["shapley"].to_numpy() == pytest.approx(by_method["markov"].to_numpy())
    expected = markov_shares(F({"C00", "C01", "C02"}), model.removal_effects)
    assert by_method["shapley"].to_dict() == pytest.approx(expected)
    # the journeys within the limit keep their Shapley split
    pair = credits[(credits["path_id"] == "p20") & (credits["method"] == "shapley")]
    assert pair.set_index("channel")["conversions"].to_dict() == pytest.approx({"C00": 0.375, "C01": 0.625})

    fallback = shapley_fallback(model, ts)
    assert fallback["path_id"].tolist() == [f"p{len(journeys) - 2}"] and fallback["channels"].tolist() == [3]
    evaluation = attribution.evaluate(model, ts, attribution.Params(max_shapley_channels=2))
    n_orders = sum(j[1] for j in journeys)
    revenue = sum(j[2] for j in journeys)
    assert evaluation.metrics["shapley_fallback_journeys"] == 1
    assert evaluation.metrics["shapley_fallback_order_share"] == pytest.approx(1 / n_orders)
    assert evaluation.metrics["shapley_fallback_revenue_share"] == pytest.approx(90.0 / revenue)
    totals = all_credits(model, ts).groupby("method")[["conversions", "revenue_credit"]].sum()
    assert set(totals.index) == {"markov", "shapley", CHANNEL_LEVEL}
    assert totals["conversions"].to_numpy() == pytest.approx(n_orders)
    assert totals["revenue_credit"].to_numpy() == pytest.approx(revenue)


def test_markov_channel_level_is_total_conversions_times_removal_effect_share():
    # the chain of the first test: RE(A) = 0.5, RE(B) = 1.0; 2 conversions, revenue 100 + 50
    ts = journey_set([(("A", "B"), True, 100.0), (("A",), False, 0.0), (("B",), True, 50.0)])
    model = attribution.train(ts)
    assert model.removal_effects == pytest.approx({"A": 0.5, "B": 1.0})
    level = channel_level_credits(model, ts).set_index("channel")
    # A: 2 x 0.5 / 1.5 = 2/3, B: 2 x 1.0 / 1.5 = 4/3; revenue 150 x 1/3 = 50 and 150 x 2/3 = 100
    assert level["conversions"].to_dict() == pytest.approx({"A": 2 / 3, "B": 4 / 3})
    assert level["revenue_credit"].to_dict() == pytest.approx({"A": 50.0, "B": 100.0})
    assert (level["method"] == CHANNEL_LEVEL).all() and level["campaign_id"].isna().all()
    # the per-journey split differs: B alone converts once (all to B), A+B splits 1/3 : 2/3
    journey = touch_credits(model, ts)
    markov = journey[journey["method"] == "markov"].groupby("channel")["conversions"].sum()
    assert markov.to_dict() == pytest.approx({"A": 1 / 3, "B": 5 / 3})
    rows = attribution.model.aggregate(all_credits(model, ts))
    out = rows[rows["method"] == CHANNEL_LEVEL].set_index("channel")["conversions"]
    assert out.to_dict() == pytest.approx({"A": 2 / 3, "B": 4 / 3})


def test_shapley_values_are_efficient_and_symmetric_on_a_larger_game():
    rng = np.random.default_rng(7)
    players = [f"P{i}" for i in range(7)]
    value = {F(s): float(rng.random()) for k in range(1, 8) for s in combinations(players, k)}
    value[F({"P0"})] = value[F({"P1"})]  # P0 and P1 interchangeable: equal marginal contributions
    for k in range(1, 6):
        for s in combinations(players[2:], k):
            value[F({"P0", *s})] = value[F({"P1", *s})]
    phi = shapley_values(F(players), value)
    assert sum(phi.values()) == pytest.approx(value[F(players)])  # efficiency: sum = v(N) - v(empty)
    assert phi["P0"] == pytest.approx(phi["P1"])
    # against the permutation definition for one player
    from itertools import permutations

    marginal = [
        value.get(F(order[: order.index("P3") + 1]), 0.0) - value.get(F(order[: order.index("P3")]), 0.0)
        for order in permutations(players)
    ]
    assert phi["P3"] == pytest.approx(sum(marginal) / len(marginal))


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
    assert set(out["method"]) == set(model.methods) == {"markov", "shapley", CHANNEL_LEVEL}
    assert out.loc[out["method"] == CHANNEL_LEVEL, "campaign_id"].isna().all()
    conv = ts.paths[ts.paths["converted"]]
    over = sum(len(set(c)) > params.max_shapley_channels for c in conv["channels"])
    assert evaluation.metrics["shapley_fallback_journeys"] == over
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
