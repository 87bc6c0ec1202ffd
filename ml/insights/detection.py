"""Funnel anomaly detection: what really changed, with its start date, stated only when the numbers can
carry it.

For every breakdown (the whole shop, each channel, device, visitor type and customer type) and every
funnel step (and the session conversion), the detector looks for a change that is still going on:

- **Scan of start dates.** Each candidate start `s` in the last `SCAN_DAYS` days splits the data into
  the period since `s` (up to the reference date) and a baseline of the `BASELINE_DAYS` (4 weeks) before
  `s`. The start with the strongest evidence wins and is reported as "since s"; so a shift that lasts a
  month is compared with the month before it began, not with last week, and keeps being reported with
  the same start until it ends.
- **Weekday matching.** The baseline rate is the baseline's weekday rates weighted by the weekdays of
  the current period (a 3-day window from Friday to Sunday is compared with baseline weekends).
- **Tests.** Rates: a stratified two-proportion z-test (pooled variance). Revenue per session: a Welch
  z-test on per-session means from daily sums and sums of squares. A scan over many starts picks its
  best p-value, so that p-value is multiplied by the number of starts tried (Bonferroni) before the
  false-discovery control across every breakdown and step (Benjamini-Hochberg, `FDR_Q`).
- **Minimum sample and materiality.** A start is tried only when the current period has at least
  `MIN_CURRENT` sessions at the step's entry and the baseline `MIN_BASELINE`, with at least
  `MIN_EXPECTED` expected conversions and non-conversions; a change smaller than `MIN_RELATIVE` of the
  baseline rate is not material whatever its p-value.
- **Ongoing.** A change is reported only while the last `RECENT_DAYS` still show at least half of it.
- **Impact and priority.** Lost conversions = (baseline rate − rate) × sessions entering the step ×
  the baseline's conversion from that step to purchase; lost revenue = lost conversions × the
  baseline's revenue per purchase. Priority: high for a drop whose lost conversions reach
  `HIGH_IMPACT_SHARE` of the shop's conversions in the same period (q < `HIGH_Q`); medium for any other
  material drop or rise worth more than `MEDIUM_IMPACT_SHARE`; low otherwise. Anomalies are ordered by
  priority, then by impact.

Plain numpy/scipy over daily counts; the SQL that reads them is in ml/insights/topics/funnel.py.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

# scipy.stats is imported inside detect(): this module is reachable from the Dagster code location,
# whose load must stay free of SciPy (tests/ops/test_no_deprecations.py).

BASELINE_DAYS = 28
SCAN_DAYS = 56
RECENT_DAYS = 7
ONGOING_P = 0.05
EARLIER_DAYS = 14
# days of daily counts the detector needs: the scan, its baseline, and the weeks before (recoveries)
HISTORY_DAYS = SCAN_DAYS + BASELINE_DAYS + EARLIER_DAYS
MIN_CURRENT = 30
MIN_BASELINE = 100
MIN_EXPECTED = 5.0
MIN_RELATIVE = 0.15
FDR_Q = 0.05
HIGH_Q = 0.01
HIGH_IMPACT_SHARE = 0.05
MEDIUM_IMPACT_SHARE = 0.01
MAX_ANOMALIES = 8

# (step, numerator, denominator): step k's rate is sessions reaching k over sessions reaching k - 1
STEPS: tuple[tuple[str, str, str], ...] = (
    ("product_view", "product_view_sessions", "sessions"),
    ("add_to_cart", "add_to_cart_sessions", "product_view_sessions"),
    ("checkout", "checkout_sessions", "add_to_cart_sessions"),
    ("payment", "payment_sessions", "checkout_sessions"),
    ("purchase", "purchase_sessions", "payment_sessions"),
    ("conversion", "purchase_sessions", "sessions"),
)
STEP_LABELS = {
    "product_view": "session → product view",
    "add_to_cart": "product view → add to cart",
    "checkout": "add to cart → checkout",
    "payment": "checkout → payment",
    "purchase": "payment → purchase",
    "conversion": "session conversion",
    "revenue_per_session": "revenue per session",
}
COUNT_COLUMNS = ("sessions", "product_view_sessions", "add_to_cart_sessions", "checkout_sessions",
                 "payment_sessions", "purchase_sessions")  # fmt: skip
PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
OUTCOMES = ("conversion", "revenue_per_session")  # results of the steps, not steps
STEP_BY_NAME = {step: (step, num, den) for step, num, den in STEPS}


@dataclass
class Series:
    """Daily counts of one breakdown segment over `days` consecutive dates ending at the reference date.

    `counts[col]` are arrays of length `days`; `revenue`, `revenue_sq` are daily sums of session revenue
    and of its square (for the revenue test), `revenue_sessions` the sessions they are over."""

    dimension: str
    segment: str
    start: dt.date
    counts: dict[str, np.ndarray]
    revenue: np.ndarray
    revenue_sq: np.ndarray | None = None
    revenue_sessions: np.ndarray | None = None

    @property
    def days(self) -> int:
        return len(self.counts["sessions"])

    def date(self, i: int) -> dt.date:
        return self.start + dt.timedelta(days=i)


@dataclass
class Candidate:
    """The best start found for one (segment, step), before the false-discovery control."""

    series: Series
    step: str
    since: int  # index of the start date in the series
    z: float
    p: float  # scan-adjusted (Bonferroni over the starts tried)
    rate: float
    baseline_rate: float
    current_n: float
    baseline_n: float
    recent: tuple[float, float, float] | None  # (value, entries, variance per entry) of the last days
    extra: dict[str, float] = field(default_factory=dict)


def _weekday_weights(first: dt.date, lo: int, hi: int) -> np.ndarray:
    """Share of each weekday among days [lo, hi) of a series starting on `first`."""
    wd = (np.arange(lo, hi) + first.weekday()) % 7
    return np.bincount(wd, minlength=7) / max(hi - lo, 1)


def _by_weekday(values: np.ndarray, first: dt.date, lo: int, hi: int) -> np.ndarray:
    wd = (np.arange(lo, hi) + first.weekday()) % 7
    return np.bincount(wd, weights=values[lo:hi], minlength=7)


def _dispersion(first: dt.date, x: np.ndarray, n: np.ndarray, lo: int, rate_wd: np.ndarray) -> float:
    """Quasi-binomial dispersion of the baseline's days (Pearson chi-square / df, at least 1): a
    segment whose daily rate swings more than binomial noise gets a proportionally wider variance."""
    p = rate_wd[(np.arange(lo, lo + len(x)) + first.weekday()) % 7]
    ok = (n > 0) & (p > 0) & (p < 1)
    df = int(ok.sum()) - 7
    if df <= 0:
        return 1.0
    chi2 = float((((x - n * p) ** 2)[ok] / (n * p * (1 - p))[ok]).sum())
    return max(1.0, chi2 / df)


def _rate_test(s: Series, num: np.ndarray, den: np.ndarray, lo: int, hi: int) -> tuple[float, ...] | None:
    """Stratified two-proportion z of days [lo, hi) against the BASELINE_DAYS before lo.

    Returns (z, rate, weekday-matched baseline rate, current n, baseline n) or None below the minimum
    sample."""
    b0 = lo - BASELINE_DAYS
    if b0 < 0:
        return None
    n_cur, x_cur = float(den[lo:hi].sum()), float(num[lo:hi].sum())
    n_base_wd, x_base_wd = _by_weekday(den, s.start, b0, lo), _by_weekday(num, s.start, b0, lo)
    n_base = float(n_base_wd.sum())
    if n_cur < MIN_CURRENT or n_base < MIN_BASELINE:
        return None
    cur_wd = _by_weekday(den, s.start, lo, hi)
    w = cur_wd / n_cur
    if np.any((w > 0) & (n_base_wd == 0)):
        return None  # a weekday of the current period has no baseline
    rate_wd = np.divide(x_base_wd, n_base_wd, out=np.zeros(7), where=n_base_wd > 0)
    p0 = float((w * rate_wd).sum())
    expected = p0 * n_cur
    if expected < MIN_EXPECTED or n_cur - expected < MIN_EXPECTED:
        return None
    rate = x_cur / n_cur
    pooled = (x_cur + float(x_base_wd.sum())) / (n_cur + n_base)
    inv_base = float(np.divide(w**2, n_base_wd, out=np.zeros(7), where=n_base_wd > 0).sum())
    phi = _dispersion(s.start, num[b0:lo], den[b0:lo], b0, rate_wd)
    var = phi * pooled * (1 - pooled) * (1 / n_cur + inv_base)
    if var <= 0:
        return None
    return (rate - p0) / math.sqrt(var), rate, p0, n_cur, n_base


def _mean_test(s: Series, lo: int, hi: int) -> tuple[float, ...] | None:
    """Welch z of revenue per session in [lo, hi) against the weekday-matched baseline mean."""
    if s.revenue_sq is None or s.revenue_sessions is None:
        return None
    b0 = lo - BASELINE_DAYS
    if b0 < 0:
        return None
    n, total, sq = s.revenue_sessions, s.revenue, s.revenue_sq
    n_cur = float(n[lo:hi].sum())
    n_base_wd = _by_weekday(n, s.start, b0, lo)
    n_base = float(n_base_wd.sum())
    if n_cur < MIN_CURRENT or n_base < MIN_BASELINE:
        return None
    w = _by_weekday(n, s.start, lo, hi) / n_cur
    if np.any((w > 0) & (n_base_wd == 0)):
        return None
    sum_wd, sq_wd = _by_weekday(total, s.start, b0, lo), _by_weekday(sq, s.start, b0, lo)
    mean_wd = np.divide(sum_wd, n_base_wd, out=np.zeros(7), where=n_base_wd > 0)
    var_wd = np.divide(sq_wd, n_base_wd, out=np.zeros(7), where=n_base_wd > 0) - mean_wd**2
    m0 = float((w * mean_wd).sum())
    mean = float(total[lo:hi].sum()) / n_cur
    var_cur = max(float(sq[lo:hi].sum()) / n_cur - mean**2, 0.0)
    var_base = np.divide(w**2 * var_wd, n_base_wd, out=np.zeros(7), where=n_base_wd > 0)
    var = var_cur / n_cur + float(var_base.sum())
    if var <= 0 or m0 <= 0:
        return None
    return (mean - m0) / math.sqrt(var), mean, m0, n_cur, n_base


def _split_gain(num: np.ndarray, den: np.ndarray, sq: np.ndarray | None) -> np.ndarray:
    """Log-likelihood gain of splitting the whole series at each day i into [0, i) and [i, end) with
    a value of its own each (binomial rates, or normal means with the pooled variance): largest at
    the day the change began. It locates the start only; the test of that start is the baseline's."""
    cx = np.concatenate([[0.0], np.cumsum(num)])
    cn = np.concatenate([[0.0], np.cumsum(den)])
    xb, nb = cx, cn
    xa, na = cx[-1] - cx, cn[-1] - cn
    if sq is None:

        def ll(x: np.ndarray, n: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(n > 0, x / np.maximum(n, 1e-12), 0.0)
                return np.nan_to_num(x * np.log(p) + (n - x) * np.log1p(-p))

        gain = ll(xb, nb) + ll(xa, na) - ll(cx[-1:], cn[-1:])
    else:
        total_var = max(float(sq.sum()) / max(cn[-1], 1) - (cx[-1] / max(cn[-1], 1)) ** 2, 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.where((nb > 0) & (na > 0), xb / np.maximum(nb, 1e-12) - xa / np.maximum(na, 1e-12), 0.0)
            gain = nb * na / np.maximum(cn[-1], 1) * diff**2 / (2 * total_var)
    return gain[:-1]


def _p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def _scan(
    s: Series, step: str, test, num: np.ndarray, den: np.ndarray, sq: np.ndarray | None = None
) -> Candidate | None:
    """Best start over the scan window; the p-value pays for every start tried. `num`/`den` are the
    daily sums whose ratio is the measured value (conversions / entries, revenue / sessions; `sq` the
    sums of squares of a mean), read again over the last days to tell whether the change goes on."""
    end = s.days
    split = _split_gain(num, den, sq)
    best: tuple[float, int, tuple[float, ...]] | None = None
    tried = 0
    for lo in range(max(end - SCAN_DAYS, BASELINE_DAYS), end):
        res = test(lo, end)
        if res is None:
            continue
        tried += 1
        if best is None or split[lo] > best[0]:
            best = (split[lo], lo, res)
    if best is None:
        return None
    _, lo, (z, rate, base, n_cur, n_base) = best
    recent = None
    if end - lo > RECENT_DAYS:
        # the last RECENT_DAYS, widened (within the period) until they hold MIN_CURRENT entries
        r = end - RECENT_DAYS
        while r > lo and den[r:end].sum() < MIN_CURRENT:
            r -= 1
        if r > lo:
            n_r = float(den[r:end].sum())
            value = float(num[r:end].sum()) / n_r
            if sq is None:  # a rate: binomial variance at the baseline rate
                unit_var = base * (1 - base)
            else:  # a mean: the recent sessions' own variance
                unit_var = max(float(sq[r:end].sum()) / n_r - value**2, 0.0)
            recent = (value, n_r, unit_var)
    return Candidate(s, step, lo, z, min(1.0, _p_two_sided(z) * tried), rate, base, n_cur, n_base, recent)


def _ongoing(c: Candidate) -> bool:
    """The last RECENT_DAYS (widened to MIN_CURRENT entries) still show the change: their value is
    nearer the changed value than the baseline, and still beyond the baseline at one-sided p < ONGOING_P.
    Periods too short to have a separate recent part are ongoing by construction."""
    if c.recent is None:
        return True
    value, n, unit_var = c.recent
    if c.rate == c.baseline_rate or unit_var <= 0:
        return False
    sign = 1.0 if c.rate > c.baseline_rate else -1.0
    nearer = sign * (value - (c.rate + c.baseline_rate) / 2) >= 0
    z = sign * (value - c.baseline_rate) / math.sqrt(unit_var / n)
    return nearer and 0.5 * math.erfc(z / math.sqrt(2)) < ONGOING_P


def _downstream(s: Series, step: str, lo: int, hi: int) -> tuple[float, float]:
    """Baseline conversion from entering `step`'s numerator to purchase, and revenue per purchase."""
    b0 = max(lo - BASELINE_DAYS, 0)
    num = STEP_BY_NAME[step][1] if step in STEP_BY_NAME else "purchase_sessions"
    reached = float(s.counts[num][b0:lo].sum())
    purchases = float(s.counts["purchase_sessions"][b0:lo].sum())
    revenue = float(s.revenue[b0:lo].sum())
    to_purchase = purchases / reached if reached else 0.0
    per_purchase = revenue / purchases if purchases else 0.0
    return to_purchase, per_purchase


def candidates(series: list[Series]) -> list[Candidate]:
    """The best start of every (segment, step) with enough data, rates and revenue per session."""
    out = []
    for s in series:
        for step, num, den in STEPS:
            n_arr, d_arr = s.counts[num], s.counts[den]
            test = partial(_rate_test, s, n_arr, d_arr)
            c = _scan(s, step, test, n_arr, d_arr)
            if c is not None:
                out.append(c)
        if s.revenue_sessions is not None:
            test = partial(_mean_test, s)
            c = _scan(s, "revenue_per_session", test, s.revenue, s.revenue_sessions, s.revenue_sq)
            if c is not None:
                out.append(c)
    return out


def _round(v: float, digits: int = 4) -> float:
    r = round(float(v), digits)
    return int(r) if r.is_integer() and abs(r) >= 1 else r


def _earlier(c: Candidate) -> float | None:
    """The rate (or revenue per session) of the EARLIER_DAYS before the baseline window: a rise back to
    that level is the end of an earlier drop (a recovery), not news. None when the history is shorter."""
    s, hi = c.series, c.since - BASELINE_DAYS
    if hi < EARLIER_DAYS:
        return None
    return _window_rate(s.counts, (s.revenue, s.revenue_sessions), c.step, hi - EARLIER_DAYS, hi)


def _anomaly(c: Candidate, q: float, shop_conversions: float) -> dict:
    s, end = c.series, c.series.days
    to_purchase, per_purchase = _downstream(s, c.step, c.since, end)
    if c.step == "revenue_per_session":
        lost_revenue = (c.baseline_rate - c.rate) * c.current_n
        lost_conv = lost_revenue / per_purchase if per_purchase else 0.0
    else:
        lost_conv = (
            (c.baseline_rate - c.rate) * c.current_n * (1.0 if c.step == "conversion" else to_purchase)
        )
        lost_revenue = lost_conv * per_purchase
    drop = c.rate < c.baseline_rate
    earlier = _earlier(c)
    recovery = not drop and earlier is not None and abs(c.rate / earlier - 1) < MIN_RELATIVE
    share = abs(lost_conv) / shop_conversions if shop_conversions else 0.0
    if recovery:
        priority = "low"
    elif drop and q < HIGH_Q and share >= HIGH_IMPACT_SHARE:
        priority = "high"
    elif share >= MEDIUM_IMPACT_SHARE:
        priority = "medium"
    else:
        priority = "low"
    out = {
        "dimension": s.dimension,
        "segment": s.segment,
        "step": c.step,
        "step_label": STEP_LABELS[c.step],
        "direction": "drop" if drop else "rise",
        "since": s.date(c.since).isoformat(),
        "days": end - c.since,
        "baseline_days": BASELINE_DAYS,
        "sessions": int(round(c.current_n)),
        "baseline_sessions": int(round(c.baseline_n)),
    }
    if c.step == "revenue_per_session":
        out |= {
            "revenue_per_session": _round(c.rate, 2),
            "baseline_revenue_per_session": _round(c.baseline_rate, 2),
            "revenue_per_session_change": _round(c.rate / c.baseline_rate - 1),
        }
        if recovery:
            out["earlier_revenue_per_session"] = _round(earlier, 2)
    else:
        out |= {
            "rate": _round(c.rate),
            "baseline_rate": _round(c.baseline_rate),
            "rate_points": _round(c.rate - c.baseline_rate),
            "rate_change": _round(c.rate / c.baseline_rate - 1) if c.baseline_rate else None,
        }
        if recovery:
            out["earlier_rate"] = _round(earlier)
    out["recovery"] = recovery
    out |= {
        "lost_conversions": _round(lost_conv, 1),
        "lost_revenue": _round(lost_revenue, 2),
        "conversions_share": _round(share),
        "z_score": _round(c.z, 2),
        "p_scan": float(f"{c.p:.3g}"),
        "q_fdr": float(f"{q:.3g}"),
        "priority": priority,
    }
    return out


def _arrays(counts: dict[str, np.ndarray], revenue: tuple | None, step: str) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) daily arrays of a step's rate, or (revenue, sessions) for revenue per
    session."""
    if step == "revenue_per_session":
        return revenue
    _, n, d = STEP_BY_NAME[step]
    return counts[n], counts[d]


def _window_rate(counts: dict[str, np.ndarray], revenue: tuple, step: str, lo: int, hi: int) -> float | None:
    """The step's rate (or revenue per session) over days [lo, hi) of raw arrays."""
    num, den = _arrays(counts, revenue, step)
    total = float(den[lo:hi].sum())
    return float(num[lo:hi].sum()) / total if total else None


def _change(counts: dict[str, np.ndarray], revenue: tuple, step: str, since: int, end: int) -> float:
    """Relative change of the window [since, end) against the BASELINE_DAYS before it (0 if undefined)."""
    now = _window_rate(counts, revenue, step, since, end)
    before = _window_rate(counts, revenue, step, max(since - BASELINE_DAYS, 0), since)
    return now / before - 1 if now is not None and before else 0.0


def _entries(counts: dict[str, np.ndarray], revenue: tuple | None, step: str, lo: int, hi: int) -> float:
    """Sessions entering the step (or, for revenue per session, the sessions) over days [lo, hi)."""
    return float(_arrays(counts, revenue, step)[1][lo:hi].sum())


def _concentrated(whole: Series, seg: Series, step: str, since: int) -> bool:
    """The segment moved and the rest of the shop (whole minus segment) moved less than half as much:
    the segment is where the change is. A shop-wide change moves every segment alike. A rest too small
    to measure (fewer than MIN_CURRENT entries since the start, e.g. the few returning customers beside
    "new") tells nothing: the change is not shown to be concentrated, and the whole shop is reported."""
    rest = {k: whole.counts[k] - seg.counts[k] for k in whole.counts if k in seg.counts}
    rev = (whole.revenue, whole.revenue_sessions)
    seg_rev = (seg.revenue, seg.revenue_sessions)
    has_rev = all(v is not None for v in rev + seg_rev)
    rest_rev = (
        (whole.revenue - seg.revenue, whole.revenue_sessions - seg.revenue_sessions) if has_rev else None
    )
    if step == "revenue_per_session" and not has_rev:
        return True
    end = whole.days
    if _entries(rest, rest_rev, step, since, end) < MIN_CURRENT:
        return False
    seg_change = _change(seg.counts, seg_rev, step, since, end)
    rest_change = _change(rest, rest_rev, step, since, end)
    return abs(rest_change) < 0.5 * abs(seg_change)


def _redundant(found: list[tuple[dict, Series]]) -> set[int]:
    """Indices of anomalies another one explains; the root cause is listed instead.

    - A whole-shop anomaly is explained by one segment with the same step and direction that carries
      at least half of its loss and where the change is concentrated (the rest of the shop moved less
      than half as much).
    - A segment's anomaly is explained by a whole-shop one that is kept (same step and direction) when
      the change is not concentrated in it: a shop-wide outage is reported once, for the whole shop.
    - An outcome (session conversion, revenue per session) of a segment or of the whole shop is
      explained by one of its own steps in the same direction carrying at least half of its loss."""
    whole = {id(a): s for a, s in found if a["dimension"] == "all"}
    out: set[int] = set()

    def share(a: dict, o: dict) -> float:
        return abs(o["lost_conversions"]) / abs(a["lost_conversions"]) if a["lost_conversions"] else 1.0

    for i, (a, s) in enumerate(found):
        if a["dimension"] != "all":
            continue
        for o, os_ in found:
            if o["dimension"] == "all" or (o["step"], o["direction"]) != (a["step"], a["direction"]):
                continue
            if share(a, o) >= 0.5 and _concentrated(s, os_, a["step"], s.days - a["days"]):
                out.add(i)
                break
    kept_whole = [(a, whole[id(a)]) for i, (a, _) in enumerate(found) if id(a) in whole and i not in out]
    for i, (a, s) in enumerate(found):
        for o, ws in kept_whole if a["dimension"] != "all" else ():
            same = (o["step"], o["direction"]) == (a["step"], a["direction"])
            if same and not _concentrated(ws, s, a["step"], ws.days - o["days"]):
                out.add(i)
                break
        for o, _ in found:
            same_segment = o is not a and (o["dimension"], o["segment"]) == (a["dimension"], a["segment"])
            by_step = a["step"] in OUTCOMES and o["step"] not in OUTCOMES
            if same_segment and by_step and o["direction"] == a["direction"] and share(a, o) >= 0.5:
                out.add(i)
                break
    return out


def detect(series: list[Series]) -> list[dict]:
    """Significant, material, ongoing anomalies, ordered by priority then impact (largest first).

    Impact shares are of the whole shop's purchases over each anomaly's own period: the "all" series
    when present (the funnel topic always passes it), else the anomaly's segment."""
    cands = candidates(series)
    if not cands:
        return []
    from scipy.stats import false_discovery_control

    q = false_discovery_control([c.p for c in cands], method="bh")
    whole = next((s for s in series if s.dimension == "all"), None)
    found = []
    for c, qv in zip(cands, q, strict=True):
        if qv >= FDR_Q or c.baseline_rate == 0:
            continue
        if abs(c.rate / c.baseline_rate - 1) < MIN_RELATIVE or not _ongoing(c):
            continue
        shop = (whole or c.series).counts["purchase_sessions"][c.since :].sum()
        found.append((_anomaly(c, float(qv), float(shop)), c.series))
    redundant = _redundant(found)
    kept = [a for i, (a, _) in enumerate(found) if i not in redundant]
    kept.sort(key=lambda a: (PRIORITY_ORDER[a["priority"]], -abs(a["lost_conversions"])))
    return kept[:MAX_ANOMALIES]
