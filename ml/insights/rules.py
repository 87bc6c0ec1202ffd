"""Rule-based generator (no API key): the same `InsightList` from the same context, stating only what
the numbers show (largest movers, thresholds). Its output passes the same grounding check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml.insights.schema import Evidence, Insight, InsightList

BIG_RATE_CHANGE = 0.02  # 2 percentage points of a conversion/retention rate
BIG_RELATIVE = 0.25  # 25 % relative move


def pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def pp(v: float) -> str:
    return f"{abs(v) * 100:.1f} percentage points"


def money(v: float) -> str:
    return f"{v:,.2f}"


def plain(v: float) -> str:
    """A context value written in full: `:g` would turn 1234567 into 1.23457e+06, not in the context."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,}"


def direction(v: float) -> str:
    return "rose" if v > 0 else "fell" if v < 0 else "was unchanged"


def _priority(change: float, big: float) -> str:
    return "high" if abs(change) >= big else "medium" if abs(change) >= big / 2 else "low"


def _funnel(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    o = ctx["overall"]
    if o.get("conversion_rate_change") is not None:
        step = ctx.get("step_moved_most")
        s = ctx["steps"][step] if step else None
        step_text = (
            f" The step that moved most was {step}: {pct(s['rate_prev'])} to {pct(s['rate'])}."
            if s and s["change"] is not None
            else ""
        )
        out.append(
            Insight(
                headline=f"Session conversion {direction(o['conversion_rate_change'])} week over week",
                observation=(
                    f"Conversion went from {pct(o['conversion_rate_prev'])} to {pct(o['conversion_rate'])} "
                    f"on {o['sessions']:,} sessions (previous week {o['sessions_prev']:,}).{step_text}"
                ),
                recommendation=f"Review what changed at the {step or 'funnel'} step this week.",
                priority=_priority(o["conversion_rate_change"], BIG_RATE_CHANGE),
                evidence=[
                    Evidence(metric="overall.conversion_rate", value=o["conversion_rate"]),
                    Evidence(metric="overall.conversion_rate_prev", value=o["conversion_rate_prev"]),
                ],
            )
        )
    for dim in ("by_channel", "by_device"):
        movers = [(k, v) for k, v in ctx[dim].items() if v.get("conversion_rate_change") is not None]
        if not movers:
            continue
        name, v = max(movers, key=lambda kv: abs(kv[1]["conversion_rate_change"]))
        out.append(
            Insight(
                headline=f"{name}: conversion {direction(v['conversion_rate_change'])} the most",
                observation=(
                    f"{name} converted {pct(v['conversion_rate'])} of {v['sessions']:,} sessions this week "
                    f"vs {pct(v['conversion_rate_prev'])} the week before, a move of "
                    f"{pp(v['conversion_rate_change'])}."
                ),
                recommendation=f"Check traffic quality and landing pages for {name}.",
                priority=_priority(v["conversion_rate_change"], BIG_RATE_CHANGE),
                evidence=[
                    Evidence(metric=f"{dim}.{name}.conversion_rate_change", value=v["conversion_rate_change"])
                ],
            )
        )
    return out


def _campaigns(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    movers = ctx["movers_by_model"].get("last_touch", {}).get("roas_movers", [])
    if movers:
        m = movers[0]
        out.append(
            Insight(
                headline=f"{m['campaign']}: last-touch ROAS {direction(m['change'])} the most",
                observation=f"Last-touch ROAS of {m['campaign']} went from {m['roas_prev']} to {m['roas']}.",
                recommendation="Compare the other attribution models before moving budget.",
                priority=_priority(m["change"] / m["roas_prev"] if m["roas_prev"] else 1, BIG_RELATIVE),
                evidence=[Evidence(metric="movers_by_model.last_touch.roas_movers[0].roas", value=m["roas"])],
            )
        )
    unattr = ctx["spend_without_attributed_revenue"]
    if unattr["campaigns"]:
        names = ", ".join(c["campaign"] for c in unattr["campaigns"])
        out.append(
            Insight(
                headline="Spend without attributed revenue",
                observation=f"{money(unattr['total_spend'])} was spent this week on campaigns with no "
                f"first-party attributed revenue under any model: {names}.",
                recommendation="Check their tracking (UTMs) and pause them if they stay at zero.",
                priority="high" if unattr["total_spend"] > 0.1 * (ctx["spend"] or 1) else "medium",
                evidence=[
                    Evidence(
                        metric="spend_without_attributed_revenue.total_spend", value=unattr["total_spend"]
                    )
                ],
            )
        )
    pf = ctx["platform_vs_first_party"]
    ratio = pf.get("platform_to_last_touch_ratio")
    if ratio is not None:
        lt = pf["first_party_conversions_by_model"]["last_touch"]
        out.append(
            Insight(
                headline="Platform-reported vs first-party conversions",
                observation=f"Meta reported {plain(pf['platform_purchases'])} purchases this week; first-party "
                f"last-touch attribution gives {plain(lt)} conversions (ratio {plain(ratio)}).",
                recommendation=(
                    "Compare both before moving budget: Meta counts with its own attribution, "
                    "first-party with ours."
                ),
                priority="medium" if abs(ratio - 1) >= BIG_RELATIVE else "low",
                evidence=[
                    Evidence(metric="platform_vs_first_party.platform_to_last_touch_ratio", value=ratio)
                ],
            )
        )
    return out


def _cohorts(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    for horizon, h in ctx["retention"].items():
        n = horizon.split("_")[1]
        out.append(
            Insight(
                headline=f"Newest cohorts' month-{n} retention {direction(h['change'])} vs earlier cohorts",
                observation=f"The newest cohorts retained {pct(h['newest_retained'])} in month {n} vs "
                f"{pct(h['earlier_retained'])} for earlier cohorts ({pp(h['change'])}).",
                recommendation="Look at what the newest cohorts were acquired with (channels, offers).",
                priority=_priority(h["change"], BIG_RATE_CHANGE * 2),
                evidence=[Evidence(metric=f"retention.{horizon}.change", value=h["change"])],
            )
        )
    return out


def _customers(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    churn = ctx.get("churn_risk")
    if churn and churn["bands"]:
        band, b = max(churn["bands"].items(), key=lambda kv: kv[1]["avg_churn_probability"] or 0)
        drivers = ", ".join(f"{d['driver']} ({d['customers']:,})" for d in b["top_drivers"]) or "none listed"
        out.append(
            Insight(
                headline=f"{b['customers']:,} customers in the {band} churn-risk band",
                observation=f"The {band} band holds {pct(b['share'])} of scored customers with an average churn "
                f"probability of {pct(b['avg_churn_probability'])}. Most frequent drivers: {drivers}.",
                recommendation=f"Target the {band} band with a win-back campaign addressing its top driver.",
                priority="high" if (b["share"] or 0) >= 0.2 else "medium",
                evidence=[Evidence(metric=f"churn_risk.bands.{band}.customers", value=b["customers"])],
            )
        )
    ltv = ctx.get("predicted_ltv")
    if ltv and ltv["by_acquisition_channel"]:
        hi, lo = ltv["highest_avg_channel"], ltv["lowest_avg_channel"]
        ch = ltv["by_acquisition_channel"]
        out.append(
            Insight(
                headline=f"{hi} brings the highest predicted LTV",
                observation=f"Average predicted LTV is {money(ch[hi]['avg_predicted_ltv'])} for customers acquired "
                f"via {hi} and {money(ch[lo]['avg_predicted_ltv'])} via {lo}.",
                recommendation=f"Weigh acquisition costs against predicted LTV when budgeting {hi} and {lo}.",
                priority="medium",
                evidence=[Evidence(metric=f"predicted_ltv.by_acquisition_channel.{hi}.avg_predicted_ltv",
                                   value=ch[hi]["avg_predicted_ltv"])],
            )
        )  # fmt: skip
    return out


def _demand(ctx: dict[str, Any]) -> list[Insight]:
    if not ctx["largest_deviations"]:
        return [
            Insight(
                headline="Actuals stayed within the forecast interval",
                observation=f"No day in {ctx['window']} fell outside the forecast interval.",
                recommendation="No action needed.",
                priority="low",
                evidence=[Evidence(metric="misses_outside_interval", value=0)],
            )
        ]
    d = ctx["largest_deviations"][0]
    side = "above" if d["actual"] > d["upper"] else "below"
    days = ctx["days_with_a_miss"]
    return [
        Insight(
            headline=f"Actuals outside the forecast interval on {days} day{'' if days == 1 else 's'}",
            observation=f"{ctx['misses_outside_interval']} daily actuals (units or revenue, by category "
            f"and in total) fell outside the interval in {ctx['window']}. Largest: {d['category']} "
            f"{d['measure']} on {d['date']} was {plain(d['actual'])}, {side} the interval {plain(d['lower'])} to "
            f"{plain(d['upper'])} (forecast {plain(d['forecast'])}).",
            recommendation=f"Check stock and promotions for {d['category']} around {d['date']}.",
            priority="high" if days >= 3 else "medium",
            evidence=[
                Evidence(metric="days_with_a_miss", value=ctx["days_with_a_miss"]),
                Evidence(metric="misses_outside_interval", value=ctx["misses_outside_interval"]),
            ],
        )
    ]


RULES: dict[str, Callable[[dict[str, Any]], list[Insight]]] = {
    "funnel": _funnel,
    "campaigns": _campaigns,
    "cohorts": _cohorts,
    "customers": _customers,
    "demand": _demand,
}


def generate(topic: str, context: dict[str, Any]) -> InsightList:
    """Insights for an 'ok' context from thresholds and the largest movers."""
    return InsightList(insights=RULES[topic](context))
