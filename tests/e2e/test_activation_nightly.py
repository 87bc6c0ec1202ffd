"""Tier 5: the nightly job evaluates the built-in segments after the ML scores, builds their marts in
the same run, and syncs them live to the sandbox's Meta and Shopify emulators; the second night
changes nothing. Each built-in segment's members are recomputed here in pandas from the tables its
definition reads, independently of its SQL."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from ingestion.activation.segments import load_segments

pytestmark = pytest.mark.e2e


def _frame(conn: psycopg.Connection, sql: str) -> pd.DataFrame:
    cur = conn.execute(sql)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


@pytest.fixture(scope="module")
def tables(nightly, warehouse) -> dict[str, pd.DataFrame]:
    with psycopg.connect(warehouse.role_url("admin")) as conn:
        return {
            "customers": _frame(conn, "select * from marts.dim_customers"),
            "orders": _frame(conn, "select customer_id, ordered_at, is_cancelled from marts.fct_orders"),
            "churn": _frame(conn, "select * from ml.churn_scores"),
            "ltv": _frame(conn, "select * from ml.ltv_predictions"),
            "snapshots": _frame(conn, "select * from activation.segment_snapshots"),
            "members": _frame(conn, "select * from marts.segment_members"),
            "sizes": _frame(conn, "select * from marts.fct_segment_sizes_daily"),
            "runs": _frame(conn, "select * from activation.sync_runs"),
        }


def _latest(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[frame[column] == frame[column].max()]


def expected_members(name: str, t: dict[str, pd.DataFrame]) -> set[int]:
    customers = t["customers"]
    churn = _latest(t["churn"], "snapshot_date")
    ltv = _latest(t["ltv"], "reference_date").copy()
    if name == "win_back":
        ltv["rank"] = ltv["predicted_ltv"].rank(method="min").sub(1).div(max(len(ltv) - 1, 1))
        high = set(churn.loc[churn["risk_band"] == "high", "customer_id"])
        return high & set(ltv.loc[ltv["rank"] >= 0.7, "customer_id"])
    if name == "lookalike_seed":
        ordered = ltv.sort_values("predicted_ltv", ascending=False).reset_index(drop=True)
        # ntile(10): the first (n // 10 + (1 if n % 10 else 0)) rows
        n = len(ordered)
        first = n // 10 + (1 if n % 10 else 0)
        top_value = ordered["predicted_ltv"].iloc[first - 1] if n else None
        chosen = set(ordered["customer_id"].iloc[:first])
        assert n == 0 or ordered["predicted_ltv"].iloc[first:].lt(top_value).all() or len(chosen) == first
        return chosen
    if name == "at_risk_vips":
        high = set(churn.loc[churn["risk_band"] == "high", "customer_id"])
        vip = customers[(customers["frequency_score"] >= 4) & (customers["monetary_score"] >= 4)]
        at_risk = vip["rfm_segment"].isin(["At Risk", "Cannot Lose Them"]) | vip["customer_id"].isin(high)
        return set(vip.loc[at_risk, "customer_id"])
    if name == "one_time_buyers_due":
        orders = t["orders"][t["orders"]["customer_id"].notna() & ~t["orders"]["is_cancelled"]]
        orders = orders.sort_values("ordered_at")
        first_two = orders.groupby("customer_id")["ordered_at"].apply(lambda s: list(s.iloc[:2]))
        gaps = [(v[1] - v[0]).total_seconds() / 86400 for v in first_two if len(v) >= 2]
        median = pd.Series(gaps).median()
        one = customers[(customers["orders"] == 1) & (customers["recency_days"] > median)]
        return set(one["customer_id"])
    raise KeyError(name)


@pytest.mark.parametrize("name", ["win_back", "lookalike_seed", "at_risk_vips", "one_time_buyers_due"])
def test_built_in_segments_hold_the_customers_their_rule_names(tables, name):
    snaps = tables["snapshots"]
    latest = snaps[(snaps["segment"] == name) & (snaps["as_of_date"] == snaps["as_of_date"].max())]
    expected = expected_members(name, tables)
    assert expected, f"{name}: the tiny shop should have members (or the rule means nothing here)"
    assert set(latest["customer_id"]) == expected


def test_every_built_in_segment_was_evaluated_and_has_a_history(tables):
    names = {d.name for d in load_segments()}
    sizes = tables["sizes"]
    assert set(sizes["segment"]) == names
    current = tables["members"][tables["members"]["is_current"]]
    for name in names:
        latest = sizes[sizes["segment"] == name].sort_values("as_of_date").iloc[-1]
        assert latest["members"] == (current["segment"] == name).sum(), name


def test_the_first_night_syncs_everyone_eligible_and_the_second_nothing(tables, nightly):
    runs = tables["runs"]
    first = runs[runs["run_id"] == nightly["first"].run_id]
    second = runs[runs["run_id"] == nightly["second"].run_id]
    expected = {(d.name, dest) for d in load_segments() for dest in d.destinations}
    assert set(zip(first["segment"], first["destination"], strict=True)) == expected
    assert (first["status"] == "succeeded").all(), first[["segment", "destination", "error"]]
    assert (first["adds"] == first["eligible"]).all()
    assert first["adds"].sum() > 0
    assert (first["without_consent"] > 0).any(), "the tiny shop has members without marketing consent"
    assert (second["status"] == "succeeded").all()
    assert (second["adds"] == 0).all() and (second["removes"] == 0).all()
    meta = first[first["destination"] == "meta_custom_audiences"]
    assert meta["audience_id"].notna().all()
    assert ((meta["match_rate"] > 0) & (meta["match_rate"] <= 1)).all()
