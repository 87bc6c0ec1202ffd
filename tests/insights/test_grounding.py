"""Grounding by meaning (pure, no database): numbers must be the cited metrics' values in their units,
dates are never evidence, direction words follow the sign, evidence must match the context."""

from __future__ import annotations

import pytest

from ml.insights.grounding import check_insight, resolve, unit_of
from ml.insights.schema import Evidence, Insight

CTX = {
    "currency": "USD",
    "reference_date": "2025-06-28",
    "current_period": "2025-06-22..2025-06-28",
    "overall": {"sessions": 1234, "conversion_rate": 0.1234, "conversion_rate_points": -0.0215},
    "by_device": {
        "mobile": {"sessions": 412, "conversion_rate": 0.0512, "conversion_rate_change": -0.28},
        "desktop": {"sessions": 822, "conversion_rate": 0.152, "conversion_rate_change": 0.0312},
    },
    "revenue": 12345.678,
    "roas": 2.3456,
    "retention": {"month_2": {"newest_retained_rate": 0.21, "retained_points": 0.034}},
    "anomalies": [
        {
            "segment": "mobile", "step": "checkout", "direction": "drop", "since": "2025-06-01", "days": 28,
            "rate": 0.1, "baseline_rate": 0.2, "rate_points": -0.1, "sessions": 300, "lost_revenue": 1500.0,
        }
    ],
    "campaigns": [{"campaign": "Summer Sale 2024", "spend": 99.5}],
}  # fmt: skip


def _insight(text: str, *metrics: str, headline: str = "h", recommendation: str = "r") -> Insight:
    evidence = []
    for path in metrics:
        value, _, _ = resolve(CTX, path)
        evidence.append(Evidence(metric=path, value=value))
    return Insight(
        headline=headline, observation=text, recommendation=recommendation, priority="low", evidence=evidence
    )


def _problems(text: str, *metrics: str, **kw) -> list[str]:
    return check_insight(_insight(text, *metrics, **kw), CTX)


def test_the_issues_example_is_rejected():
    """28 is only the day of 2025-06-28 (and the magnitude of an uncited change); there are no refunds."""
    ctx = {"currency": "USD", "reference_date": "2025-06-28", "overall": {"conversion_rate": 0.031}}
    insight = Insight(
        headline="Mobile conversion fell 28 % week over week; refunds rose 28 percent",
        observation="Conversion is at 3.1%.",
        recommendation="Check refunds.",
        priority="high",
        evidence=[Evidence(metric="overall.conversion_rate", value=0.031)],
    )
    problems = check_insight(insight, ctx)
    assert len([p for p in problems if p.startswith("headline cites 28")]) == 2, problems
    assert "part of the date 2025-06-28" in problems[0]


def test_a_correct_insight_is_accepted():
    text = (
        "Mobile conversion fell 28.0% to 5.1% of 412 sessions since 2025-06-22; desktop rose 3.1% "
        "to 15.2%. Overall conversion is 12.3%, down 2.2 points, on 1,234 sessions."
    )
    paths = [
        "by_device.mobile.conversion_rate_change", "by_device.mobile.conversion_rate",
        "by_device.mobile.sessions", "by_device.desktop.conversion_rate_change",
        "by_device.desktop.conversion_rate", "overall.conversion_rate", "overall.conversion_rate_points",
        "overall.sessions",
    ]  # fmt: skip
    assert _problems(text, *paths, headline="Mobile conversion dropped") == []


def test_a_coincidental_number_matching_an_uncited_metric_is_rejected():
    # 412 is the mobile sessions count, but the insight cites the desktop one
    problems = _problems("Desktop had 412 sessions.", "by_device.desktop.sessions")
    assert len(problems) == 1 and "412" in problems[0]
    assert "matches by_device.mobile.sessions, which the evidence does not cite" in problems[0]
    assert _problems("Desktop had 822 sessions.", "by_device.desktop.sessions") == []


def test_a_number_from_no_metric_is_rejected():
    (problem,) = _problems("Sessions grew by 987 this week.", "overall.sessions")
    assert "987" in problem and "not the value of any metric in its evidence" in problem


@pytest.mark.parametrize(
    "text, path, ok",
    [
        ("conversion fell 2.2 points", "overall.conversion_rate_points", True),
        ("conversion fell 2.2 percentage points", "overall.conversion_rate_points", True),
        ("conversion fell 2.2 pp", "overall.conversion_rate_points", True),
        ("conversion fell 215 bps", "overall.conversion_rate_points", True),
        ("conversion fell 2.2%", "overall.conversion_rate_points", False),  # % for points
        ("mobile conversion fell 28 points", "by_device.mobile.conversion_rate_change", False),
        ("mobile conversion fell 28%", "by_device.mobile.conversion_rate_change", True),
        ("conversion is 12.3 points", "overall.conversion_rate", False),  # points for a rate
        ("conversion is 12.3%", "overall.conversion_rate", True),
        ("conversion is 0.12", "overall.conversion_rate", True),  # the fraction itself
        ("ROAS was 2.35", "roas", True),
        ("ROAS was 2.35x", "roas", True),
        ("ROAS was 234.6%", "roas", False),  # a ratio is not a percent
        ("1,234 sessions", "overall.sessions", True),
        ("1,234% sessions", "overall.sessions", False),
    ],
)
def test_units_follow_the_metric_key(text, path, ok):
    problems = _problems(text, path)
    assert (problems == []) is ok, problems
    if not ok:
        assert "unit mismatch" in problems[0], problems


@pytest.mark.parametrize(
    "text, ok",
    [
        ("revenue was $12,345.68", True),
        ("revenue was $12,346", True),  # whole units
        ("revenue was 12,345.68 USD", True),
        ("revenue was USD 12,345.68", True),
        ("revenue was $12.3k", True),  # rounded at its scale
        ("revenue was $12.35k", True),
        ("revenue was 12345.68", True),  # bare amount
        ("revenue was $12,345.70", False),  # the last digit is not free
        ("revenue was $12.4k", False),
        ("revenue was €12,345.68", False),  # not the shop's currency
        ("revenue was 12,345.68 EUR", False),
    ],
)
def test_currency_amounts_round_to_what_is_written(text, ok):
    assert (_problems(text, "revenue") == []) is ok


def test_percent_rounding_is_half_a_unit_of_the_last_digit():
    assert _problems("conversion is 12%", "overall.conversion_rate") == []
    assert _problems("conversion is 12.34%", "overall.conversion_rate") == []
    assert _problems("conversion is 12.4%", "overall.conversion_rate") != []
    assert _problems("conversion is 13%", "overall.conversion_rate") != []


@pytest.mark.parametrize(
    "text, path",
    [
        ("Overall conversion rose 2.2 points.", "overall.conversion_rate_points"),
        ("Mobile conversion increased 28%.", "by_device.mobile.conversion_rate_change"),
        ("Desktop conversion was 3.1% lower.", "by_device.desktop.conversion_rate_change"),
        ("Desktop conversion is down 3.1%.", "by_device.desktop.conversion_rate_change"),
        ("Checkout conversion on mobile improved to 10.0%.", "anomalies[0].rate"),  # direction: drop
        ("The newest cohorts retain worse in month 2.", "retention.month_2.retained_points"),
    ],
)
def test_a_wrong_direction_word_is_rejected(text, path):
    problems = _problems(text, path)
    assert len(problems) == 1 and "says" in problems[0] and path in problems[0], problems


def test_direction_words_pick_the_nearest_signed_number_of_their_clause():
    text = "Mobile fell 28.0% while desktop rose 3.1%; overall it was down 2.2 points."
    paths = (
        "by_device.mobile.conversion_rate_change",
        "by_device.desktop.conversion_rate_change",
        "overall.conversion_rate_points",
    )
    assert _problems(text, *paths) == []
    swapped = "Mobile rose 28.0% while desktop fell 3.1%."
    assert len(_problems(swapped, *paths[:2])) == 2


def test_a_headline_without_numbers_follows_the_cited_sign():
    ok = _insight("Down 2.2 points.", "overall.conversion_rate_points", headline="Conversion fell")
    wrong = _insight("Down 2.2 points.", "overall.conversion_rate_points", headline="Conversion rose")
    assert check_insight(ok, CTX) == []
    (problem,) = check_insight(wrong, CTX)
    assert problem.startswith("headline says 'rose'")
    # mixed signs among the cited metrics: a number-free clause is not attributed to either
    mixed = _insight(
        "Mobile -28.0%, desktop +3.1%.",
        "by_device.mobile.conversion_rate_change",
        "by_device.desktop.conversion_rate_change",
        headline="Conversion moved: mobile fell",
    )
    assert check_insight(mixed, CTX) == []


def test_explicit_sign_must_agree():
    assert _problems("Mobile conversion -28.0%.", "by_device.mobile.conversion_rate_change") == []
    (problem,) = _problems("Mobile conversion +28.0%.", "by_device.mobile.conversion_rate_change")
    assert "opposite sign" in problem


def test_non_directional_uses_are_not_directions():
    text = "Mobile sessions were 412, set up in 2025; the rate fell within the interval"
    assert _problems(text, "by_device.mobile.sessions", recommendation="Increase the budget by half.") == []


def test_dates_ids_and_structural_numbers():
    # dates in the context are fine but never evidence; invented dates are rejected
    assert _problems("Since 2025-06-01 and June 28, 2025 (2025-06).", "overall.sessions") == []
    (problem,) = _problems("Since 2025-06-02.", "overall.sessions")
    assert "date 2025-06-02" in problem
    (problem,) = _problems("Since June 2.", "overall.sessions")
    assert "June 2" in problem
    # ids and names written verbatim are not values
    assert (
        _problems("Campaign Summer Sale 2024 (id A17, via gpt-4o) spent $99.50.", "campaigns[0].spend") == []
    )
    # the 2 of month_2 is part of the cited path
    text = "Month-2 retention of the newest cohorts is 21.0%, 3.4 points higher than in month 2 before."
    paths = ("retention.month_2.newest_retained_rate", "retention.month_2.retained_points")
    assert _problems(text, *paths) == []
    assert _problems("Retention is 21.0% after 2 months.", "overall.sessions") != []


def test_counts_of_days_need_a_cited_metric():
    assert _problems("Checkout on mobile is down for 28 days.", "anomalies[0].days") == []
    (problem,) = _problems("Checkout on mobile is down in the last 7 days.", "anomalies[0].days")
    assert "7" in problem
    assert _problems("Week over week, mobile dropped.", "anomalies[0].direction") == []


def test_number_words_before_a_unit_are_numbers():
    (problem,) = _problems("Refunds rose twenty-eight percent.", "overall.sessions")
    assert "twenty-eight percent" in problem


def test_evidence_must_exist_and_match_the_context():
    wrong_value = Insight(
        headline="h", observation="Mobile had 412 sessions.", recommendation="r", priority="low",
        evidence=[Evidence(metric="by_device.mobile.sessions", value=413)],
    )  # fmt: skip
    (problem,) = check_insight(wrong_value, CTX)
    assert problem == "evidence by_device.mobile.sessions = 413.0, but the context has 412"
    missing = Insight(
        headline="h", observation="Refunds were 12.", recommendation="r", priority="low",
        evidence=[Evidence(metric="refunds.count", value=12)],
    )  # fmt: skip
    problems = check_insight(missing, CTX)
    assert problems[0] == "evidence refunds.count: no such metric in the context"
    assert any("cites 12" in p for p in problems)
    whole = Insight(
        headline="h", observation="o", recommendation="r", priority="low",
        evidence=[Evidence(metric="by_device.mobile", value=1)],
    )  # fmt: skip
    assert "not one value" in check_insight(whole, CTX)[0]


def test_paths_resolve_keys_with_spaces_and_list_items():
    ctx = {"by_channel": {"Paid Social": {"spend": 1.5}}, "rows": [{"a_rate": 0.5}]}
    assert resolve(ctx, "by_channel.Paid Social.spend")[0] == 1.5
    assert resolve(ctx, "rows[0].a_rate")[0] == 0.5
    assert resolve(ctx, "rows[1].a_rate")[0] is not None  # missing: the sentinel, not a value
    assert resolve(ctx, "rows[1].a_rate")[0] != 0.5


@pytest.mark.parametrize(
    "key, unit",
    [
        ("conversion_rate", "fraction"), ("share", "fraction"), ("coverage", "fraction"),
        ("churn_probability", "fraction"), ("rate_points", "points"), ("rate_change", "change"),
        ("lost_revenue", "money"), ("avg_predicted_ltv", "money"), ("total_spend", "money"),
        ("roas", "ratio"), ("platform_to_last_touch_ratio", "ratio"), ("p_value", "plain"),
        ("sessions", "plain"), ("days", "plain"),
    ],
)  # fmt: skip
def test_unit_of_follows_the_naming_convention(key, unit):
    assert unit_of(key) == unit
