"""Planted incidents: specs fail clearly, the orders an incident claims to have lost are gone from every
output the world writes (and only those), and a world with incidents stays deterministic and advances
with them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from ingestion.sandbox.shop import advance_world, generate_world, load_world
from ingestion.sandbox.shop.incidents import parse_incident
from tests.sandbox.test_shop_determinism import digest

BUG = "checkout_bug:2024-11-20:2024-12-05:mobile"
OUTAGE = "payment_outage:2024-12-10:2024-12-19"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("checkout_crash:2025-01-01:2025-01-02", "unknown kind 'checkout_crash'"),
        ("checkout_bug:2025-01-01:2025-01-21", "expected checkout_bug:START:END:DEVICE"),
        ("payment_outage:2025-01-01:2025-01-10:mobile", "expected payment_outage:START:END"),
        ("payment_outage:2025-13-01:2025-01-10", "start date '2025-13-01' is not YYYY-MM-DD"),
        ("payment_outage:2025-01-10:2025-01-01", "end 2025-01-01 is before start 2025-01-10"),
        ("payment_outage:2024-10-01:2024-10-05", "starts before the shop opens"),
        ("checkout_bug:2025-01-01:2025-01-21:phone", "unknown device 'phone'"),
    ],
)
def test_malformed_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="incident .*: .*") as caught:
        parse_incident(spec)
    assert message in str(caught.value)


def test_spec_round_trip_and_truth_fields() -> None:
    bug = parse_incident(BUG)
    assert (bug.spec, bug.device, bug.start, bug.end) == (
        BUG,
        "mobile",
        dt.date(2024, 11, 20),
        dt.date(2024, 12, 5),
    )
    assert bug.days == (19, 34)
    row = bug.truth(5, 3)
    assert {k: row[k] for k in ("dimension", "segment", "step", "sessions_affected", "orders_lost")} == {
        "dimension": "device_type", "segment": "mobile", "step": "payment", "sessions_affected": 5, "orders_lost": 3,
    }  # fmt: skip
    outage = parse_incident(OUTAGE).truth(0, 0)
    assert (outage["dimension"], outage["segment"], outage["step"]) == ("all", "all", "purchase")


def test_cli_rejects_a_malformed_incident_before_generating(tmp_path: Path) -> None:
    from orchestration.cli import main

    result = CliRunner().invoke(
        main,
        ["sandbox", "generate", "--size", "tiny", "--out", str(tmp_path), "--incident", "payment_outage:x:y"],
    )
    assert result.exit_code == 2, result.output
    assert "start date 'x' is not YYYY-MM-DD" in result.output
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    clean, planted = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("planted")
    generate_world("tiny", 5, clean, days=60)
    generate_world("tiny", 5, planted, days=60, incidents=[BUG, OUTAGE])
    return clean, planted


def _table(world: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(world / f"{name}.parquet")


def _checkout_events(world: Path) -> pd.DataFrame:
    rows = []
    for p in sorted((world / "landing" / "events").rglob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            e = orjson.loads(line)
            if e.get("event") in (
                "Checkout Started",
                "Payment Info Entered",
                "Checkout Error",
                "Order Completed",
            ):
                props = e["properties"]
                rows.append({"event": e["event"], "anonymous_id": e["anonymousId"], "checkout_id": props["checkout_id"],
                             "ts": pd.Timestamp(e["timestamp"]), "target": props.get("alert_target")})  # fmt: skip
    return pd.DataFrame(rows)


def _in_window(ts: pd.Series, spec: str) -> pd.Series:
    inc = parse_incident(spec)
    day = ts.dt.date
    return (day >= inc.start) & (day <= inc.end)


def test_incidents_json_is_the_ground_truth(worlds: tuple[Path, Path]) -> None:
    clean, planted = worlds
    truth = json.loads((planted / "incidents.json").read_text())
    assert [t["spec"] for t in truth] == [BUG, OUTAGE] == load_world(planted)["incidents"]
    assert all(t["orders_lost"] > 5 and t["sessions_affected"] >= t["orders_lost"] for t in truth)
    assert not (clean / "incidents.json").exists() and "incidents" not in load_world(clean)


def test_lost_orders_are_gone_from_every_output(worlds: tuple[Path, Path]) -> None:
    clean, planted = worlds
    truth = json.loads((planted / "incidents.json").read_text())
    lost_total = sum(t["orders_lost"] for t in truth)
    s_clean, s_inc = _table(clean, "sessions"), _table(planted, "sessions")
    # sessions are the same sessions; exactly the claimed orders left them, each inside its incident
    assert s_clean["session_id"].tolist() == s_inc["session_id"].tolist()
    gone = s_clean["order_id"].notna() & s_inc["order_id"].isna()
    assert gone.sum() == lost_total and not (s_clean["order_id"].isna() & s_inc["order_id"].notna()).any()
    g = s_clean[gone]
    in_bug = _in_window(g["started_at"], BUG) & (g["device"] == "mobile")
    assert (in_bug | _in_window(g["started_at"], OUTAGE)).all()
    assert in_bug.sum() == truth[0]["orders_lost"]
    # orders: the remaining ones are the clean world's other orders (same times and totals)
    o_clean, o_inc = _table(clean, "orders"), _table(planted, "orders")
    assert len(o_clean) - len(o_inc) == lost_total
    lost_ids = set(g["order_id"].astype("int64"))
    kept = o_clean[~o_clean["order_id"].isin(lost_ids)]
    assert kept["created_at"].tolist() == o_inc["created_at"].tolist()
    # same money, except where a lost first order made a later one the buyer's first (WELCOME10)
    moved = (kept["total_price"].to_numpy() != o_inc["total_price"].to_numpy()) | (
        kept["discount_code"].fillna("").to_numpy() != o_inc["discount_code"].fillna("").to_numpy()
    )
    assert moved.sum() < 5 and (o_inc.loc[moved, "discount_code"].fillna("WELCOME10") == "WELCOME10").all()
    # line items, refunds and customers only reference the orders that happened
    lines = _table(planted, "order_line_items")
    assert set(lines["order_id"]) == set(o_inc["order_id"])
    lines_clean = _table(clean, "order_line_items")
    assert len(lines) == (~lines_clean["order_id"].isin(lost_ids)).sum()
    assert set(_table(planted, "refunds")["order_id"]) <= set(o_inc["order_id"])
    customers = _table(planted, "customers")
    assert customers["number_of_orders"].sum() == len(o_inc)
    assert set(o_inc["customer_id"]) == set(customers["customer_id"])
    assert set(s_inc["order_id"].dropna().astype("int64")) == set(o_inc["order_id"])
    # the ML truth covers exactly the customers that exist
    truth_c = pd.read_parquet(planted / "truth" / "customers_truth.parquet")
    assert set(truth_c["customer_id"]) == set(customers["customer_id"])
    # GA4: same traffic, fewer purchases (GA4 misses the sessions its own blocking hides)
    ga_clean, ga_inc = _table(clean, "ga4_daily"), _table(planted, "ga4_daily")
    assert ga_clean["sessions"].tolist() == ga_inc["sessions"].tolist()
    fewer = ga_clean["ecommerce_purchases"].sum() - ga_inc["ecommerce_purchases"].sum()
    assert 0 < fewer <= lost_total


def test_failed_checkouts_in_the_event_stream(worlds: tuple[Path, Path]) -> None:
    clean, planted = worlds
    truth = json.loads((planted / "incidents.json").read_text())
    ev_clean, ev = _checkout_events(clean), _checkout_events(planted)
    done_clean = ev_clean[ev_clean["event"] == "Order Completed"]
    done = ev[ev["event"] == "Order Completed"]
    lost = set(done_clean["checkout_id"]) - set(done["checkout_id"])
    assert lost and set(done["checkout_id"]) <= set(done_clean["checkout_id"])
    errors = ev[ev["event"] == "Checkout Error"]
    assert set(lost) <= set(errors["checkout_id"]), "every tracked lost order shows its error"
    assert len(errors) <= sum(t["sessions_affected"] for t in truth) and errors["checkout_id"].is_unique
    paid = set(ev.loc[ev["event"] == "Payment Info Entered", "checkout_id"])
    bug, declined = errors[errors["target"] == "checkout"], errors[errors["target"] == "payment"]
    assert len(bug) and len(declined) and len(bug) + len(declined) == len(errors)
    # a checkout bug fails before payment, on mobile, in its dates; a decline follows a payment, in its dates
    assert not set(bug["checkout_id"]) & paid and _in_window(bug["ts"], BUG).all()
    assert set(declined["checkout_id"]) <= paid and _in_window(declined["ts"], OUTAGE).all()
    last = ev.sort_values("ts").groupby("checkout_id").tail(1)
    assert set(last.loc[last["event"] == "Checkout Error", "checkout_id"]) == set(errors["checkout_id"])
    # outside the incidents the planted world's checkout events are the clean world's
    quiet = ~_in_window(ev_clean["ts"], BUG) & ~_in_window(ev_clean["ts"], OUTAGE)
    quiet_inc = ~_in_window(ev["ts"], BUG) & ~_in_window(ev["ts"], OUTAGE)
    cols = ["event", "anonymous_id", "checkout_id", "ts"]
    assert (
        ev_clean.loc[quiet, cols]
        .reset_index(drop=True)
        .equals(ev.loc[quiet_inc, cols].reset_index(drop=True))
    )


def test_same_incidents_same_files_and_advance_keeps_them(tmp_path: Path, worlds: tuple[Path, Path]) -> None:
    again = tmp_path / "again"
    generate_world("tiny", 5, again, days=60, incidents=[BUG, OUTAGE])
    assert digest(again) == digest(worlds[1])
    once, stepped = tmp_path / "once", tmp_path / "stepped"
    late = "payment_outage:2024-12-08:2024-12-12"  # spans the day the world advances into
    generate_world("tiny", 5, once, days=40, incidents=[late])
    generate_world("tiny", 5, stepped, days=39, incidents=[late])
    world = advance_world(stepped, 1)
    assert world["incidents"] == [late]
    assert digest(stepped) == digest(once)


def test_an_incident_after_the_end_changes_only_the_future(tmp_path: Path, worlds: tuple[Path, Path]) -> None:
    """Orders it will prevent are not in the 12-month truth; everything already written is unchanged."""
    future = tmp_path / "future"
    generate_world("tiny", 5, future, days=60, incidents=["payment_outage:2025-01-10:2025-02-20"])
    a, b = digest(worlds[0]), digest(future)
    changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert changed == {"world.json", "incidents.json", "truth/customers_truth.parquet"}
    assert json.loads((future / "incidents.json").read_text())[0]["orders_lost"] == 0
    t0 = pd.read_parquet(worlds[0] / "truth" / "customers_truth.parquet")
    t1 = pd.read_parquet(future / "truth" / "customers_truth.parquet")
    assert t1["next_12m_orders"].sum() < t0["next_12m_orders"].sum()


def test_docs_describe_planted_incidents() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text()
    section = doc.split("## Planted incidents", 1)[1]
    for needed in ("checkout_bug:START:END:DEVICE", "payment_outage:START:END", "60 %", "50 %", "incidents.json",
                   "sessions_affected", "orders_lost", '"step"'):  # fmt: skip
        assert needed in section, needed


def test_detection_bench_plants_separated_incidents_and_scores_cited_anomalies() -> None:
    from tests.bench.insights_detection import incident_specs, surfaced_keys

    end = dt.date(2025, 11, 1)
    for seed in (42, 7, 11, 0, 14):
        bug, outage = (parse_incident(s) for s in incident_specs(seed, end))
        assert (bug.kind, bug.device, (bug.end - bug.start).days) == ("checkout_bug", "mobile", 20)
        assert (outage.end - outage.start).days == 9 and (outage.start - bug.end).days >= 35
        assert (end - bug.start).days <= 150 and (end - outage.end).days > 14
    anomalies = [
        {"dimension": "channel", "segment": "Email", "step": "conversion"},
        {"dimension": "device_type", "segment": "mobile", "step": "payment"},
    ]
    rows = [
        (
            "medium",
            [{"metric": "anomalies[1].rate", "value": 0.2}, {"metric": "overall.sessions", "value": 9}],
        )
    ]
    assert surfaced_keys(anomalies, rows) == ({("device_type", "mobile", "payment")}, False)
    assert surfaced_keys([], [("high", [{"metric": "anomalies[0].rate", "value": 1}])]) == (set(), True)
