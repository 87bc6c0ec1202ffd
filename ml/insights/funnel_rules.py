"""Rule-based funnel insights (no API key, or the LLM's fallback): one insight per anomaly the detector
found (ml/insights/detection.py), worst first, or one low-priority "no significant change" insight.

Each insight names the segment, the step and the start date, and cites every number it writes
(`anomalies[i].<metric>`), so it passes the same grounding check as an LLM answer.
"""

from __future__ import annotations

from typing import Any

from ml.insights.schema import Evidence, Insight

MAX_INSIGHTS = 3
SEGMENT_LABELS = {
    "channel": "channel {}",
    "device_type": "{} devices",
    "visitor_type": "{} visitors",
    "customer_type": "{} customers",
}
ADVICE = {
    "product_view": "Check landing pages, ads' destinations and site speed for {label}.",
    "add_to_cart": "Check product pages (prices, stock, add-to-cart button) for {label}.",
    "checkout": "Check the cart and the start of checkout for {label} (shipping costs, errors).",
    "payment": "Check the checkout steps before payment for {label}: errors, address and shipping forms.",
    "purchase": "Check the payment provider and declined or failed payments for {label}.",
    "conversion": "Walk through the whole funnel for {label} to find where sessions drop.",
    "revenue_per_session": "Check prices, discounts and the product mix for {label}.",
}


def pct(v: float) -> str:
    return f"{abs(v) * 100:.1f}%"


def points(v: float) -> str:
    return f"{abs(v) * 100:.1f} points"


def money(v: float, currency: str) -> str:
    return f"{abs(v):,.2f} {currency}"


def segment_label(a: dict[str, Any]) -> str:
    if a["dimension"] == "all":
        return "the whole shop"
    return SEGMENT_LABELS.get(a["dimension"], a["dimension"] + " {}").format(a["segment"])


def _anomaly_insight(i: int, a: dict[str, Any], currency: str) -> Insight:
    label, path = segment_label(a), f"anomalies[{i}]"
    drop = a["direction"] == "drop"
    verb, comparative = ("fell", "lower") if drop else ("rose", "higher")
    cited = ["since", "days", "baseline_days", "sessions", "lost_conversions", "lost_revenue"]
    if a["step"] == "revenue_per_session":
        cited += ["revenue_per_session", "baseline_revenue_per_session", "revenue_per_session_change"]
        measured = (
            f"revenue per session for {label} is {money(a['revenue_per_session'], currency)} vs "
            f"{money(a['baseline_revenue_per_session'], currency)} in the {a['baseline_days']} days before, "
            f"{pct(a['revenue_per_session_change'])} {comparative}"
        )
    else:
        cited += ["rate", "baseline_rate", "rate_points"]
        measured = (
            f"{a['step_label']} for {label} is {pct(a['rate'])} of {a['sessions']:,} sessions vs "
            f"{pct(a['baseline_rate'])} in the {a['baseline_days']} days before, "
            f"{points(a['rate_points'])} {comparative}"
        )
    impact = (
        f"About {abs(a['lost_conversions']):,.0f} purchases and {money(a['lost_revenue'], currency)} "
        + ("lost so far." if drop else "gained so far.")
    )
    headline = f"{label[0].upper() + label[1:]}: {a['step_label']} {verb} since {a['since']}"
    recommendation = ADVICE[a["step"]].format(label=label)
    if a.get("recovery"):
        revenue = a["step"] == "revenue_per_session"
        key = "earlier_revenue_per_session" if revenue else "earlier_rate"
        cited.append(key)
        earlier = money(a[key], currency) if revenue else pct(a[key])
        headline = f"{label[0].upper() + label[1:]}: {a['step_label']} recovered since {a['since']}"
        impact = (
            f"That is back to the {earlier} of the weeks before the baseline: the earlier level is restored."
        )
        recommendation = "No action needed; check that it holds."
    return Insight(
        headline=headline,
        observation=f"Since {a['since']} ({a['days']} days), {measured}. {impact}",
        recommendation=recommendation,
        priority=a["priority"],
        evidence=[Evidence(metric=f"{path}.{m}", value=a[m]) for m in cited if a.get(m) is not None],
    )


def _quiet(ctx: dict[str, Any]) -> Insight:
    o = ctx["overall"]
    return Insight(
        headline="No significant change in the funnel",
        observation=(
            f"Session conversion was {pct(o['conversion_rate'])} of {o['sessions']:,} sessions in "
            f"{ctx['current_period']} vs {pct(o['baseline_conversion_rate'])} in {ctx['baseline_period']}; "
            "no step of any breakdown moved beyond chance and the materiality threshold."
        ),
        recommendation="No action needed.",
        priority="low",
        evidence=[
            Evidence(metric="overall.conversion_rate", value=o["conversion_rate"]),
            Evidence(metric="overall.sessions", value=o["sessions"]),
            Evidence(metric="overall.baseline_conversion_rate", value=o["baseline_conversion_rate"]),
        ],
    )


def generate(ctx: dict[str, Any]) -> list[Insight]:
    anomalies = ctx.get("anomalies") or []
    if not anomalies:
        return [_quiet(ctx)] if ctx["overall"].get("conversion_rate") is not None else []
    return [_anomaly_insight(i, a, ctx["currency"]) for i, a in enumerate(anomalies[:MAX_INSIGHTS])]
