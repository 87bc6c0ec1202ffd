"""The funnel topic end to end on a copy of the tiny shop's warehouse whose funnel mart holds planted
daily counts: SQL breakdowns -> detection -> rule-based insights -> grounding -> insights.llm_insights.

The tiny shop has a few sessions a day, too few for any test of a rate to see anything, so its
`fct_funnel_daily` rows are replaced by the simulated counts of test_detection.py (a few hundred
sessions a day per device, one incident with known dates); every other relation is the tiny shop's. The
same detection on the real simulated shop, with incidents planted by the sandbox, is measured by
`BENCH_ONLY=insights make bench`.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from ml.insights import run_topic
from ml.insights.llm import LLMSettings
from tests.insights.test_detection import INCIDENT, START, simulate

COLUMNS = ("sessions", "product_view_sessions", "add_to_cart_sessions", "checkout_sessions",
           "payment_sessions", "purchase_sessions")  # fmt: skip
INCIDENT_START = START + dt.timedelta(days=INCIDENT[0])
INCIDENT_END = START + dt.timedelta(days=INCIDENT[1] - 1)  # last day of the incident


@pytest.fixture(scope="module")
def planted_wh(built_tiny, dbt_warehouse):
    from tests.ml.copies import copy_database

    wh = copy_database(dbt_warehouse, "journey_insights_funnel", schema_only=False)
    devices = simulate(21, incident=(("mobile",), "payment", 0.4, *INCIDENT))
    rows = []
    for device, (counts, revenue, _sq, _n) in devices.items():
        for i in range(len(counts["sessions"])):
            # each device's day split over two channels and visitor types, as the mart's grain has
            for half, (channel, visitor) in enumerate((("Direct", "new"), ("Paid Social", "returning"))):  # noqa: E501
                part = [int(counts[c][i]) // 2 + (int(counts[c][i]) % 2 if half == 0 else 0) for c in COLUMNS]
                rows.append((START + dt.timedelta(days=i), channel, device, visitor, visitor, *part,
                             float(revenue[i]) / 2))  # fmt: skip
    with psycopg.connect(wh.role_url("admin"), autocommit=True) as conn:
        conn.execute("truncate marts.fct_funnel_daily, marts.fct_sessions")
        with conn.cursor().copy(
            "copy marts.fct_funnel_daily (date_day, channel, device_type, visitor_type, customer_type, "
            f"{', '.join(COLUMNS)}, purchase_revenue) from stdin"
        ) as copy:
            for r in rows:
                copy.write_row(r)
        conn.execute("update marts.fct_funnel_daily set funnel_mode = 'reached'")
    return wh


def _published(wh, run_date):
    with psycopg.connect(wh.role_url("reporter")) as conn:
        cur = conn.execute(
            "select rank, priority, headline, observation, evidence from insights.llm_insights "
            "where topic = 'funnel' and run_date = %s and status = 'published' order by rank",
            (run_date,),
        )
        return [dict(zip([d.name for d in cur.description], r, strict=True)) for r in cur.fetchall()]


def test_planted_checkout_bug_is_published_with_segment_step_and_start(planted_wh):
    night = INCIDENT_END
    result = run_topic("funnel", night, planted_wh, LLMSettings())
    assert (result.status, result.generator, result.rejected) == ("ok", "rules", 0), result
    top = result.context["anomalies"][0]
    assert (top["dimension"], top["segment"], top["step"], top["direction"]) == (
        "device_type", "mobile", "payment", "drop",
    )  # fmt: skip
    assert abs((dt.date.fromisoformat(top["since"]) - INCIDENT_START).days) <= 2
    rows = _published(planted_wh, night)
    assert rows[0]["priority"] == "high"
    assert rows[0]["headline"] == f"Mobile devices: checkout → payment fell since {top['since']}"
    assert "lower" in rows[0]["observation"] and "lost so far" in rows[0]["observation"]
    assert all(e["metric"].startswith("anomalies[0].") for e in rows[0]["evidence"])
    # ranks follow priority
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[r["priority"]] for r in rows] == sorted(order[r["priority"]] for r in rows)


def test_early_in_the_incident_and_after_it(planted_wh):
    early = INCIDENT_START + dt.timedelta(days=2)
    result = run_topic("funnel", early, planted_wh, LLMSettings())
    assert any((a["segment"], a["step"]) == ("mobile", "payment") for a in result.context["anomalies"]), (
        "surfaced within 2 nights of the start"
    )
    before = INCIDENT_START - dt.timedelta(days=3)
    run_topic("funnel", before, planted_wh, LLMSettings())
    assert not [r for r in _published(planted_wh, before) if r["priority"] == "high"]
    after = INCIDENT_END + dt.timedelta(days=14)
    result = run_topic("funnel", after, planted_wh, LLMSettings())
    assert not [
        a
        for a in result.context["anomalies"]
        if (a["segment"], a["step"], a["direction"]) == ("mobile", "payment", "drop")
    ]
