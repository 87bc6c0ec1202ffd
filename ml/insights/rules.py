"""Rule-based generator (no API key, or the fallback of a failed LLM answer): the same `InsightList` from
the same context, stating only what the numbers show (largest movers, thresholds). Every number it
writes is a metric it cites, in that metric's unit, so its output passes the same grounding check.

Presentation: money in the shop's currency (`currency` at the context's root) with 2 decimals, ROAS
and ratios with 2 decimals, rates with 1 decimal, differences of rates in "points" and relative
changes as a % (magnitudes: the direction word carries the sign)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml.insights import funnel_rules
from ml.insights.grounding import resolve
from ml.insights.schema import Evidence, Insight, InsightList

BIG_RATE_CHANGE = 0.02  # 2 percentage points of a conversion/retention rate
BIG_RELATIVE = 0.25  # 25 % relative move


def pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def pp(v: float) -> str:
    return f"{abs(v) * 100:.1f} percentage points"


def points(v: float) -> str:
    """A difference of rates (`*_points`), as a magnitude: the direction word carries the sign."""
    return f"{abs(v) * 100:.1f} points"


def pct_magnitude(v: float) -> str:
    """A relative change (`*_change`) as a magnitude: "12.3%"."""
    return f"{abs(v) * 100:.1f}%"


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(v: float, currency: str | None = None) -> str:
    """An amount with 2 decimals in the shop's currency: "$1,234.50", "1,234.50 SEK" (bare without one)."""
    amount = f"{abs(v):,.2f}"
    sign = "-" if v < 0 else ""
    if currency is None:
        return sign + amount
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency.upper()}"


def ratio(v: float) -> str:
    """ROAS and other ratios: 2 decimals."""
    return f"{v:.2f}"


def plain(v: float) -> str:
    """A context value written in full: `:g` would turn 1234567 into 1.23457e+06, not in the context."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,}"


def direction(v: float) -> str:
    return "rose" if v > 0 else "fell" if v < 0 else "was unchanged"


def comparative(v: float) -> str:
    return "higher" if v > 0 else "lower"


def _ev(ctx: dict[str, Any], *paths: str) -> list[Evidence]:
    """Evidence for context paths (dotted, [i] items), skipping null metrics."""
    out = []
    for path in paths:
        value, _, _ = resolve(ctx, path)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            out.append(Evidence(metric=path, value=value))
    return out


def _priority(change: float, big: float) -> str:
    return "high" if abs(change) >= big else "medium" if abs(change) >= big / 2 else "low"


def _campaigns(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    cur = ctx.get("currency")
    movers = ctx["movers_by_model"].get("last_touch", {}).get("roas_movers", [])
    if movers and movers[0]["roas"] != movers[0]["roas_prev"]:
        m, base = movers[0], "movers_by_model.last_touch.roas_movers[0]"
        ch = m["roas_change"]
        moved = f", {pct_magnitude(ch)} {comparative(ch)}" if ch else ""
        out.append(
            Insight(
                headline=f"{m['campaign']}: last-touch ROAS {direction(m['roas'] - m['roas_prev'])} the most",
                observation=f"Last-touch ROAS of {m['campaign']} went from {ratio(m['roas_prev'])} to "
                f"{ratio(m['roas'])}{moved}, on {money(m['spend'], cur)} of spend this week.",
                recommendation="Compare the other attribution models before moving budget.",
                priority=_priority(ch if ch is not None else 1, BIG_RELATIVE),
                evidence=_ev(ctx, *(f"{base}.{k}" for k in ("roas", "roas_prev", "roas_change", "spend"))),
            )
        )
    unattr = ctx["spend_without_attributed_revenue"]
    if unattr["campaigns"]:
        names = ", ".join(c["campaign"] for c in unattr["campaigns"])
        out.append(
            Insight(
                headline="Spend without attributed revenue",
                observation=f"{money(unattr['total_spend'], cur)} was spent this week on campaigns with no "
                f"first-party attributed revenue under any model: {names}.",
                recommendation="Check their tracking (UTMs) and pause them if they stay at zero.",
                priority="high" if unattr["total_spend"] > 0.1 * (ctx["spend"] or 1) else "medium",
                evidence=_ev(ctx, "spend_without_attributed_revenue.total_spend"),
            )
        )
    pf = ctx["platform_vs_first_party"]
    r = pf.get("platform_to_last_touch_ratio")
    if r is not None:
        lt = pf["first_party_conversions_by_model"]["last_touch"]
        out.append(
            Insight(
                headline="Platform-reported vs first-party conversions",
                observation=f"Meta reported {plain(pf['platform_purchases'])} purchases this week; first-party "
                f"last-touch attribution gives {plain(lt)} conversions (ratio {ratio(r)}).",
                recommendation=(
                    "Compare both before moving budget: Meta counts with its own attribution, "
                    "first-party with ours."
                ),
                priority="medium" if abs(r - 1) >= BIG_RELATIVE else "low",
                evidence=_ev(
                    ctx,
                    "platform_vs_first_party.platform_purchases",
                    "platform_vs_first_party.first_party_conversions_by_model.last_touch",
                    "platform_vs_first_party.platform_to_last_touch_ratio",
                ),
            )
        )
    return out


def _cohorts(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    for horizon, h in ctx["retention"].items():
        n, d = horizon.split("_")[1], h["retained_points"]
        moved = f", {points(d)} {comparative(d)}." if d else ", the same rate."
        out.append(
            Insight(
                headline=f"Newest cohorts' month-{n} retention {direction(d)} vs earlier cohorts",
                observation=f"The newest cohorts retained {pct(h['newest_retained_rate'])} in month {n} vs "
                f"{pct(h['earlier_retained_rate'])} for earlier cohorts ({h['earlier_cohorts']}){moved}",
                recommendation="Look at what the newest cohorts were acquired with (channels, offers).",
                priority=_priority(d, BIG_RATE_CHANGE * 2),
                evidence=_ev(
                    ctx,
                    *(f"retention.{horizon}.{k}" for k in ("newest_retained_rate", "earlier_retained_rate")),
                    f"retention.{horizon}.retained_points",
                ),
            )
        )
    return out


def _customers(ctx: dict[str, Any]) -> list[Insight]:
    out = []
    cur = ctx.get("currency")
    churn = ctx.get("churn_risk")
    if churn and churn["bands"]:
        band, b = max(churn["bands"].items(), key=lambda kv: kv[1]["avg_churn_probability"] or 0)
        base = f"churn_risk.bands.{band}"
        drivers = (
            ", ".join(f"{d['feature']} ({d['customers']:,} customers)" for d in b["top_drivers"])
            or "none listed"
        )
        share = f"{pct(b['share'])} of scored customers" if b["share"] is not None else "its customers"
        out.append(
            Insight(
                headline=f"{b['customers']:,} customers in the {band} churn-risk band",
                observation=f"The {band} band holds {share} with an average churn probability of "
                f"{pct(b['avg_churn_probability'])}. Most frequent drivers: {drivers}.",
                recommendation=f"Target the {band} band with a win-back campaign addressing its top driver.",
                priority="high" if (b["share"] or 0) >= 0.2 else "medium",
                evidence=_ev(
                    ctx, f"{base}.customers", f"{base}.share", f"{base}.avg_churn_probability",
                    *(f"{base}.top_drivers[{i}].customers" for i in range(len(b["top_drivers"]))),
                ),
            )
        )  # fmt: skip
    ltv = ctx.get("predicted_ltv")
    if ltv and ltv["by_acquisition_channel"]:
        hi, lo = ltv["highest_avg_channel"], ltv["lowest_avg_channel"]
        ch = ltv["by_acquisition_channel"]
        out.append(
            Insight(
                headline=f"{hi} brings the highest predicted LTV",
                observation=f"Average predicted LTV is {money(ch[hi]['avg_predicted_ltv'], cur)} for customers "
                f"acquired via {hi} and {money(ch[lo]['avg_predicted_ltv'], cur)} via {lo}.",
                recommendation=f"Weigh acquisition costs against predicted LTV when budgeting {hi} and {lo}.",
                priority="medium",
                evidence=_ev(ctx, *(f"predicted_ltv.by_acquisition_channel.{c}.avg_predicted_ltv" for c in (hi, lo))),
            )
        )  # fmt: skip
    return out


def _demand(ctx: dict[str, Any]) -> list[Insight]:
    if not ctx["largest_deviations"]:
        return [
            Insight(
                headline="Actuals stayed within the forecast interval",
                observation=f"No day in {ctx['window']} was outside the forecast interval.",
                recommendation="No action needed.",
                priority="low",
                evidence=_ev(ctx, "misses_outside_interval"),
            )
        ]
    d, base = ctx["largest_deviations"][0], "largest_deviations[0]"
    measure = d["measure"]

    def fmt(v: float) -> str:
        return money(v, ctx.get("currency")) if measure == "revenue" else plain(v)

    ch = d["vs_forecast_change"]
    vs = f", {pct_magnitude(ch)} {'above' if ch > 0 else 'below'} it" if ch else ""
    days = ctx["days_with_a_miss"]
    values = (f"actual_{measure}", f"lower_{measure}", f"upper_{measure}", f"forecast_{measure}")
    return [
        Insight(
            headline=f"Actuals outside the forecast interval on {days} day{'' if days == 1 else 's'}",
            observation=f"{ctx['misses_outside_interval']} daily actuals (units or revenue, by category "
            f"and in total) were outside the interval in {ctx['window']}. Largest: {d['category']} "
            f"{measure} on {d['date']} was {fmt(d[values[0]])}, {d['side']} the interval "
            f"{fmt(d[values[1]])} to {fmt(d[values[2]])} (forecast {fmt(d[values[3]])}{vs}).",
            recommendation=f"Check stock and promotions for {d['category']} around {d['date']}.",
            priority="high" if days >= 3 else "medium",
            evidence=_ev(
                ctx, "days_with_a_miss", "misses_outside_interval",
                *(f"{base}.{k}" for k in (*values, "vs_forecast_change")),
            ),
        )
    ]  # fmt: skip


RULES: dict[str, Callable[[dict[str, Any]], list[Insight]]] = {
    "funnel": funnel_rules.generate,
    "campaigns": _campaigns,
    "cohorts": _cohorts,
    "customers": _customers,
    "demand": _demand,
}


def generate(topic: str, context: dict[str, Any]) -> InsightList:
    """Insights for an 'ok' context from thresholds and the largest movers."""
    return InsightList(insights=RULES[topic](context))
