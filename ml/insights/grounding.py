"""Grounding by meaning: every number an insight writes must be the value of a metric it cites.

`check_insight(insight, context)` is a pure function; it returns human-readable problems (empty = the
insight may be published). The rules, in the order they are applied:

1. **Evidence.** Each `evidence` entry names a metric path of the context (dotted, `[i]` for list
   items: `anomalies[0].rate_points`, `by_device.mobile.conversion_rate`; keys may hold spaces or
   dots, the longest matching key wins). A path that does not exist, that names an object or list, or
   whose value differs from the cited value is a problem.
2. **Dates and names are not evidence.** ISO dates ("2025-06-28"), months ("2025-06") and written
   dates ("June 28", "28 June 2025", "June 2025") must appear as dates in some context string (no
   invented dates), and never ground a number. Numbers glued to letters or ids ("gpt-4o", "Q2",
   "SKU-12", "month_2", "3rd"), times ("02:00") and context names written verbatim ("Summer Sale
   2025") are not values. A number that is part of a cited metric's path ("month 2" or "2-month" for
   `retention.month_2.retained_points`) is structural and allowed.
3. **Numbers.** Every other number in headline, observation and recommendation must equal, after the
   rounding it is written with (half a unit of its last digit: 0.1234 may be "12.3%" or "12%", never
   "12.4%"; "1.2k" rounds at its scale) and in the unit its key implies, the value of one of the
   insight's cited metrics. Units come from the metric's last key (`unit_of`):
   fraction (`*_rate`, `*_share`, `share`, `*_probability`, `coverage*`) -> "12.3%" or "0.123";
   points (`*_points`, a difference of fractions) -> "1.2 points" / "percentage points" / "pp" (|v| x 100);
   change (`*_change`, relative) -> "12.3%" (|v| x 100); money (keys containing revenue, spend, ltv,
   aov, cost, amount, value, cpa, price) -> bare or in the context's `currency` ("$1,234.50", "1,234.50
   USD", "USD 1,234.50"; another currency is a mismatch); ratio (`roas`, `*_roas`, `*_ratio`) -> plain
   or "2.35x"; anything else (counts, days, p-values) -> the plain number. A "%" written for a points
   metric, "points" for a rate or change, a % for a count or ratio is a unit mismatch. Signed metrics
   are compared by magnitude; an explicit sign ("-5%") must agree. A number matching only a metric the
   insight does not cite is rejected (the message names that metric, so a regeneration can cite it).
   Counts of days are numbers like any other: "7 days" needs a cited metric equal to 7 (e.g.
   `anomalies[0].days`); periods in words ("week over week", "this week", "since 2025-06-01") carry no
   number and are not checked. Number words are checked only before a unit ("twenty-eight percent").
4. **Direction words** in headline and observation (rose/increased/grew/up/higher/above/improved vs
   fell/dropped/declined/decreased/down/lower/below/worse, and their forms) must agree with the sign
   of the signed metric they qualify. Signed metrics: `*_points` and `*_change` (their sign), any
   metric of an object with a `direction` field "drop"/"rise" (that direction; `baseline*` and
   `*_prev` keys excepted) and that `direction` field itself. The qualified metric: the nearest
   number grounded by a signed metric in the same clause (clauses end at . ! ? ; : and at "but",
   "while", "whereas", "although", ", and"); in a clause without such a number, the insight's cited
   signed metrics when they all have the same sign (mixed signs: not checked). A zero change admits no
   direction word. "improved"/"worse" judge: for metrics where lower is better (cost, cpa, churn,
   failures, errors, refunds, bounce, lost) they flip. "up"/"down" count only before a number ("up
   12%", "down by 3 points"), "fell outside/within" and "lower bound" are not directions. Negations
   ("did not fall") are not parsed. Recommendations are actions ("increase the budget") and are not
   direction-checked; their numbers are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ml.insights.schema import Insight

FRACTION, POINTS, CHANGE, MONEY, RATIO, PLAIN = "fraction", "points", "change", "money", "ratio", "plain"
MONEY_WORDS = ("revenue", "spend", "ltv", "aov", "cost", "amount", "value", "cpa", "price")
LOWER_IS_BETTER = ("cpa", "cost", "churn", "fail", "error", "refund", "bounce", "lost", "abandon")
UNIT_TEXT = {
    FRACTION: "a fraction (write it as a % with 1 decimal, or the fraction)",
    POINTS: "a difference of rates (write it as points: '1.2 points', 'percentage points', 'pp')",
    CHANGE: "a relative change (write it as a %)",
    MONEY: "a money amount (write it in the context's currency)",
    RATIO: "a ratio (write it plain, 2 decimals)",
    PLAIN: "a count or plain number (write it as is, without a unit)",
}

_CODES = "USD|EUR|GBP|CAD|AUD|NZD|CHF|SEK|NOK|DKK|JPY|CNY|INR|BRL|MXN|PLN|CZK|HUF|ZAR|SGD|HKD"
_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
SYMBOL_CURRENCIES: dict[str, frozenset[str]] = {
    "$": _DOLLARS, "US$": frozenset({"USD"}), "CA$": frozenset({"CAD"}), "C$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}), "NZ$": frozenset({"NZD"}), "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}), "dollar": _DOLLARS, "euro": frozenset({"EUR"}), "pound": frozenset({"GBP"}),
}  # fmt: skip

NUMBER = re.compile(
    rf"""
    (?P<sign>[-+−])?
    (?P<pre>US\$|CA\$|NZ\$|C\$|A\$|\$|€|£|¥|(?:{_CODES})\s?)?
    (?P<int>\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+)(?P<frac>\.\d+)?(?:[eE](?P<exp>[-+]?\d+))?
    (?P<scale>\s?(?:k|K|m|M|bn)\b|\s(?:thousand|million|billion)\b)?
    (?P<unit>
        \s?%
      | \s(?:percentage\s+points?|percent(?:age)?\s+pts?|basis\s+points?|points?)\b
      | \s?(?:pp|p\.p\.|pts?|bps)(?!\w)
      | \s?(?:percent|per\s?cent|pct)\b
      | x\b
      | \s?(?:{_CODES})\b
      | \s(?:dollars?|euros?|pounds?)\b
    )?
    """,
    re.VERBOSE,
)
SCALE = {"k": 1e3, "m": 1e6, "bn": 1e9, "thousand": 1e3, "million": 1e6, "billion": 1e9}

_WORD_NUMBERS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
NUMBER_WORD = re.compile(
    rf"\b(?P<tens>{'|'.join(_TENS)})(?:-(?P<ones>{'|'.join(list(_WORD_NUMBERS)[1:10])}))?"
    rf"(?P<unit>\s+(?:percent|per\s?cent|percentage\s+points?|points?))\b"
    rf"|\b(?P<small>{'|'.join(_WORD_NUMBERS)})(?P<unit2>\s+(?:percent|per\s?cent|percentage\s+points?|points?))\b",
    re.IGNORECASE,
)

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
    "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?!\d)")
ISO_MONTH = re.compile(r"(?<![\d-])(\d{4})-(\d{2})(?![\d-])")
WRITTEN_DATES = [
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>\d{{4}})\b)?"),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<year>\d{{4}})\b)?"),
    re.compile(rf"\b{_MONTH}\s+(?P<year>\d{{4}})\b"),
]

_UP = (
    "rose|rise|rises|risen|rising|increased|increase|increases|increasing|grew|grow|grows|growing|growth|"
    "higher|above|gained|gain|gains|jumped|jump|jumps|climbed|climb|climbs|improved|improve|improves|"
    "improving|improvement"
)
_DOWN = (
    "fell|fall|falls|falling|fallen|dropped|drop|drops|dropping|declined|decline|declines|declining|"
    "decreased|decrease|decreases|decreasing|lower|below|worse|worsened|worsening|shrank|shrunk|"
    "slipped|slid|plunged|plummeted"
)
JUDGEMENT = {"improved", "improve", "improves", "improving", "improvement", "worse", "worsened", "worsening"}
DIRECTION = re.compile(
    rf"\b(?P<word>{_UP}|{_DOWN})\b(?!\s+(?:outside|within|inside|into|bound|bounds|end|limit|edge)\b)"
    r"|\b(?P<updown>up|down)\b(?=\s+(?:by\s+|from\s+|to\s+)?[-+−]?(?:US\$|\$|€|£|¥)?\d)",
    re.IGNORECASE,
)
UP_WORDS = frozenset(_UP.split("|") + ["up"])
CLAUSE_END = re.compile(
    r"[.!?](?=\s|$)|;|:(?=\s)|\b(?:but|while|whereas|although|though|yet)\b|,\s*and\b", re.IGNORECASE
)
MASK = "\x00"


def unit_of(key: str) -> str:
    """The unit a context value carries, from its key (the naming convention in docs/insights.md)."""
    k = key.lower()
    if k in ("p_value", "q_value") or k.endswith(("_p_value", "_q_value")):
        return PLAIN
    if k == "points" or k.endswith("_points"):
        return POINTS
    if k == "change" or k.endswith("_change"):
        return CHANGE
    if k in ("rate", "share") or k.endswith(("_rate", "_share", "_probability")) or k.startswith("coverage"):
        return FRACTION
    if k in ("roas", "ratio") or k.endswith(("_roas", "_ratio")):
        return RATIO
    if any(w in k for w in MONEY_WORDS):
        return MONEY
    return PLAIN


@dataclass(frozen=True)
class Metric:
    """A numeric (or direction) leaf of the context, with what its key says about it."""

    path: str
    value: Any
    unit: str
    sign: int | None  # signed metrics only: -1, 0, +1
    lower_is_better: bool = False

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, int | float) and not isinstance(self.value, bool)


_MISSING = object()


def resolve(context: Any, path: str) -> tuple[Any, dict | None, str | None]:
    """(value, parent object, last key) at a dotted path with `[i]` items; value `_MISSING` if absent."""
    node, parent, leaf, rest = context, None, None, path.strip()
    while rest:
        if rest.startswith("["):
            m = re.match(r"\[(\d+)\]", rest)
            if not m or not isinstance(node, list) or int(m.group(1)) >= len(node):
                return _MISSING, None, None
            node, rest = node[int(m.group(1))], rest[m.end() :]
        elif isinstance(node, dict):
            keys = [
                k for k in node if isinstance(k, str) and (rest == k or rest.startswith((k + ".", k + "[")))
            ]
            if not keys:
                return _MISSING, None, None
            key = max(keys, key=len)
            parent, leaf, node, rest = node, key, node[key], rest[len(key) :]
        else:
            return _MISSING, None, None
        rest = rest[1:] if rest.startswith(".") else rest
    return node, parent, leaf


def _metric(path: str, value: Any, parent: dict | None, leaf: str | None) -> Metric:
    unit = unit_of(leaf or "")
    sign: int | None = None
    lower_better = False
    direction = parent.get("direction") if isinstance(parent, dict) else None
    if leaf == "direction" and value in ("drop", "rise"):
        sign = -1 if value == "drop" else 1
    elif unit in (POINTS, CHANGE) and isinstance(value, int | float) and not isinstance(value, bool):
        sign = (value > 0) - (value < 0)
        lower_better = any(w in (leaf or "").lower() for w in LOWER_IS_BETTER)
    elif (
        direction in ("drop", "rise")
        and leaf
        and not leaf.startswith("baseline")
        and not leaf.endswith("_prev")
    ):
        sign = -1 if direction == "drop" else 1
    return Metric(path, value, unit, sign, lower_better)


def metric_at(context: Any, path: str) -> Metric | None:
    value, parent, leaf = resolve(context, path)
    return None if value is _MISSING else _metric(path, value, parent, leaf)


def context_metrics(context: Any) -> Iterator[Metric]:
    """Every numeric leaf of the context with its path (to name an uncited match in a problem)."""

    def walk(node: Any, path: str, parent: dict | None, leaf: str | None) -> Iterator[Metric]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}" if path else str(k), node, str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{path}[{i}]", parent, leaf)
        elif isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node):
            yield _metric(path, node, parent, leaf)

    yield from walk(context, "", None, None)


def context_strings(context: Any) -> Iterator[str]:
    if isinstance(context, dict):
        for k, v in context.items():
            yield str(k)
            yield from context_strings(v)
    elif isinstance(context, list):
        for v in context:
            yield from context_strings(v)
    elif isinstance(context, str):
        yield context


@dataclass
class _Dates:
    days: set[str] = field(default_factory=set)  # YYYY-MM-DD
    months: set[str] = field(default_factory=set)  # YYYY-MM

    @classmethod
    def of(cls, context: Any) -> _Dates:
        out = cls()
        for s in context_strings(context):
            for m in ISO_DATE.finditer(s):
                out.days.add(m.group(0))
                out.months.add(m.group(0)[:7])
            for m in ISO_MONTH.finditer(s):
                out.months.add(m.group(0))
        return out

    def has(self, month: int, day: int | None, year: str | None) -> bool:
        if day is None:
            return any(
                m.endswith(f"-{month:02d}") and (year is None or m.startswith(year)) for m in self.months
            )
        return any(
            d[5:] == f"{month:02d}-{day:02d}" and (year is None or d.startswith(year)) for d in self.days
        )

    def parts(self) -> dict[float, str]:
        """Day, month and year numbers of the context's dates -> an example date (for the message)."""
        out: dict[float, str] = {}
        for d in sorted(self.days):
            for part in d.split("-"):
                out.setdefault(float(int(part)), d)
        return out


@dataclass
class Written:
    """A number as the text writes it."""

    value: float  # magnitude, scale applied
    step: float  # unit of the last digit written (the rounding allowed is half of it)
    unit: str  # "percent" | "points" | "bps" | "currency" | "x" | "" (none)
    currencies: frozenset[str] | None  # possible currencies of a written symbol/code
    sign: int  # explicit sign: -1, +1, 0 when none
    shown: str
    start: int
    grounded_by: list[Metric] = field(default_factory=list)


def _unit(raw: str) -> tuple[str, frozenset[str] | None]:
    u = raw.strip().lower()
    if not u:
        return "", None
    if u == "%" or u.startswith(("percent", "per", "pct")) and "point" not in u and "pt" not in u:
        return "percent", None
    if u in ("bps",) or u.startswith("basis"):
        return "bps", None
    if "point" in u or u in ("pp", "p.p.", "pt", "pts") or "pts" in u:
        return "points", None
    if u == "x":
        return "x", None
    if u.upper() in _CODES.split("|"):
        return "currency", frozenset({u.upper()})
    return "currency", SYMBOL_CURRENCIES[u.rstrip("s")]


def written_numbers(text: str) -> Iterator[Written]:
    """Every number of a (masked) text that claims a value: ids, ordinals and times are skipped."""
    for m in NUMBER.finditer(text):
        start, end = m.start(), m.end()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        sign_raw = m.group("sign")
        if sign_raw and (before.isalnum() or before == "_"):
            if not before.isdigit():
                continue  # "SKU-12": an id
            sign_raw, start = None, start + 1  # "800-1,000": a range
        elif (
            before.isalnum() or before in "_#@" or (before == "." and start > 1 and text[start - 2].isalnum())
        ):
            continue
        if after.isalnum() or after == "_" or (after == ":" and text[end + 1 : end + 2].isdigit()):
            continue  # "4o", "3rd", "02:00"
        if before == ":" and start > 1 and text[start - 2].isdigit():
            continue
        frac, exp = m.group("frac") or "", int(m.group("exp") or 0)
        scale_word = (m.group("scale") or "").strip().lower()
        scale = SCALE.get(scale_word, 1.0) * 10.0**exp
        pre = (m.group("pre") or "").strip()
        unit, currencies = _unit(m.group("unit") or "")
        if pre:
            unit, currencies = "currency", SYMBOL_CURRENCIES.get(pre) or frozenset({pre})
        value = float(m.group("int").replace(",", "") + frac) * scale
        step = 10.0 ** -len(frac.lstrip(".")) * scale if frac else scale
        sign = {"-": -1, "−": -1, "+": 1}.get(sign_raw or "", 0)
        yield Written(value, step, unit, currencies, sign, m.group(0).strip(), start)
    for m in NUMBER_WORD.finditer(text):
        if m.group("tens"):
            value = _TENS[m.group("tens").lower()] + (
                _WORD_NUMBERS[m.group("ones").lower()] if m.group("ones") else 0
            )
            unit, _ = _unit(m.group("unit"))
        else:
            value, (unit, _) = _WORD_NUMBERS[m.group("small").lower()], _unit(m.group("unit2"))
        yield Written(float(value), 1.0, unit, None, 0, m.group(0), m.start())


def _factor(written: Written, metric: Metric, currency: str | None) -> float | None:
    """How the metric's value is scaled when written in this unit; None when the unit does not fit."""
    u, kind = written.unit, metric.unit
    if kind == FRACTION:
        return {"percent": 100.0, "": 1.0}.get(u)
    if kind == POINTS:
        return {"points": 100.0, "bps": 10_000.0}.get(u)
    if kind == CHANGE:
        return 100.0 if u == "percent" else None
    if kind == MONEY:
        if u == "":
            return 1.0
        if u == "currency" and (
            currency is None or written.currencies is None or currency in written.currencies
        ):
            return 1.0
        return None
    if kind == RATIO:
        return 1.0 if u in ("", "x") else None
    return 1.0 if u == "" else None


def _close(written: Written, target: float) -> bool:
    return abs(written.value - target) <= written.step / 2 + 1e-9 * max(1.0, abs(target))


def _equals(written: Written, metric: Metric, factor: float) -> bool:
    """Magnitudes agree at the written precision; an explicit sign on an unsigned metric must agree too
    (signed metrics: the sign is checked against the direction, see `_ground`)."""
    v = float(metric.value)
    if not _close(written, abs(v) * factor):
        return False
    return metric.sign is not None or written.sign == 0 or (written.sign > 0) == (v >= 0)


def _any_factor(written: Written, metric: Metric) -> bool:
    return any(_close(written, abs(float(metric.value)) * f) for f in (1.0, 100.0, 10_000.0))


def _expected(metric: Metric, currency: str | None) -> str:
    v = float(metric.value)
    return {
        FRACTION: f"{v * 100:.1f}%",
        POINTS: f"{abs(v) * 100:.1f} points",
        CHANGE: f"{abs(v) * 100:.1f}%",
        MONEY: f"{v:,.2f} {currency or ''}".strip(),
        RATIO: f"{v:.2f}",
        PLAIN: f"{metric.value:,}",
    }[metric.unit]


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = MASK * (b - a)
    return "".join(chars)


def _verbatim(text: str, needle: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(re.escape(needle), text, re.IGNORECASE):
        a, b = m.span()
        if (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum()):
            yield a, b


def _structural(paths: list[str]) -> list[re.Pattern[str]]:
    """'month 2' / '2-month' for a path segment month_2 of a cited metric."""
    out = []
    for path in paths:
        for segment in re.split(r"\.|\[\d+\]", path):
            tokens = re.findall(r"[A-Za-z]+|\d+", segment)
            for a, b in zip(tokens, tokens[1:], strict=False):
                if a.isalpha() and b.isdigit():
                    out.append(re.compile(rf"\b{a}s?[\s_-]*{b}\b|\b{b}[\s_-]*{a}s?\b", re.IGNORECASE))
                elif a.isdigit() and b.isalpha():
                    out.append(re.compile(rf"\b{a}[\s_-]*{b}s?\b", re.IGNORECASE))
    return out


def _check_dates(name: str, text: str, dates: _Dates, problems: list[str]) -> list[tuple[int, int]]:
    spans = []
    for m in ISO_DATE.finditer(text):
        spans.append(m.span())
        if m.group(0) not in dates.days:
            problems.append(f"{name} writes the date {m.group(0)}, which is not in the context")
    for m in ISO_MONTH.finditer(text):
        spans.append(m.span())
        if m.group(0) not in dates.months:
            problems.append(f"{name} writes the month {m.group(0)}, which is not in the context")
    for pattern in WRITTEN_DATES:
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            month = _MONTHS[m.group("mon")[:3].lower()]
            day = int(m.group("day")) if "day" in pattern.groupindex and m.group("day") else None
            if day is not None and not 1 <= day <= 31:
                continue
            spans.append(m.span())
            if not dates.has(month, day, m.group("year")):
                problems.append(f"{name} writes the date {m.group(0)!r}, which is not in the context")
    return spans


def _direction_problems(
    name: str, text: str, numbers: list[Written], cited: list[Metric], problems: list[str]
) -> None:
    bounds = [0] + [m.end() for m in CLAUSE_END.finditer(text)] + [len(text) + 1]
    signed_cited = [m for m in cited if m.sign is not None]
    for d in DIRECTION.finditer(text):
        word = (d.group("word") or d.group("updown")).lower()
        polarity = 1 if word in UP_WORDS else -1
        judged = word in JUDGEMENT
        lo = max(b for b in bounds if b <= d.start())
        hi = min(b for b in bounds if b > d.start())
        in_clause = [
            w for w in numbers if lo <= w.start < hi and any(m.sign is not None for m in w.grounded_by)
        ]
        if in_clause:
            nearest = min(in_clause, key=lambda w: abs(w.start - d.start()))
            candidates = [m for m in nearest.grounded_by if m.sign is not None]
        else:
            signs = {m.sign * (-1 if judged and m.lower_is_better else 1) for m in signed_cited}
            if len(signs) != 1:
                continue
            candidates = signed_cited
        effective = [m.sign * (-1 if judged and m.lower_is_better else 1) for m in candidates]
        if polarity not in effective:
            m = candidates[0]
            what = "no change" if m.sign == 0 else "a rise" if m.sign > 0 else "a drop"
            problems.append(f"{name} says {d.group(0)!r}, but {m.path} = {m.value} is {what}")


def check_insight(insight: Insight, context: Any) -> list[str]:
    """Why this insight may not be published (empty list: every number and direction is grounded)."""
    problems: list[str] = []
    currency = context.get("currency") if isinstance(context, dict) else None
    cited: list[Metric] = []
    for ev in insight.evidence:
        metric = metric_at(context, ev.metric)
        if metric is None:
            problems.append(f"evidence {ev.metric}: no such metric in the context")
            continue
        if isinstance(metric.value, dict | list):
            problems.append(f"evidence {ev.metric} is an object or list, not one value")
            continue
        if not _same(ev.value, metric.value):
            problems.append(f"evidence {ev.metric} = {ev.value}, but the context has {metric.value}")
        cited.append(metric)
    numeric = [m for m in cited if m.numeric]
    dates = _Dates.of(context)
    names = sorted(
        {
            s
            for s in context_strings(context)
            if len(s) >= 3
            and re.search(r"[A-Za-z]", s)
            and not DIRECTION.fullmatch(s)
            and s not in ("drop", "rise")
        },
        key=len,
        reverse=True,
    )
    digit_names = [s for s in names if re.search(r"\d", s)]
    structural = _structural([m.path for m in cited])
    fields = {
        "headline": insight.headline,
        "observation": insight.observation,
        "recommendation": insight.recommendation,
    }
    for name, text in fields.items():
        spans = _check_dates(name, text, dates, problems)
        spans += [s for n in digit_names for s in _verbatim(text, n)]
        masked = _mask(text, spans)
        spans += [m.span() for p in structural for m in p.finditer(masked)]
        masked = _mask(text, spans)
        numbers = list(written_numbers(masked))
        for w in numbers:
            _ground(name, w, numeric, context, currency, dates, problems)
        if name != "recommendation":
            words = _mask(text, spans + [s for n in names for s in _verbatim(masked, n)])
            _direction_problems(name, words, [w for w in numbers if w.grounded_by], cited, problems)
    return problems


def _same(cited: float | str, actual: Any) -> bool:
    if isinstance(actual, bool) or actual is None:
        return str(cited).lower() == str(actual).lower()
    if isinstance(actual, int | float):
        try:
            c = float(cited)
        except ValueError:
            return False
        return math.isclose(c, float(actual), rel_tol=1e-9, abs_tol=1e-12)
    return str(cited).strip() == str(actual).strip()


def _ground(
    name: str,
    w: Written,
    cited: list[Metric],
    context: Any,
    currency: str | None,
    dates: _Dates,
    problems: list[str],
) -> None:
    for m in cited:
        factor = _factor(w, m, currency)
        if factor is not None and _equals(w, m, factor):
            if m.sign not in (None, 0) and w.sign and w.sign != m.sign:
                problems.append(f"{name} writes {w.shown} with the opposite sign of {m.path} = {m.value}")
            w.grounded_by.append(m)
    if w.grounded_by:
        return
    mismatch = next((m for m in cited if _any_factor(w, m)), None)
    if mismatch is not None:
        if mismatch.unit == MONEY and w.unit == "currency":
            why = f"the context's currency is {currency}"
        else:
            why = f"it is {UNIT_TEXT[mismatch.unit]}: {_expected(mismatch, currency)}"
        problems.append(f"{name} writes {w.shown} for {mismatch.path}: unit mismatch, {why}")
        return
    year = int(w.value) if w.unit == "" and w.step == 1.0 and w.value.is_integer() else None
    if year and 1900 <= year <= 2100 and any(d.startswith(f"{year}-") for d in dates.months):
        return  # a year of a context date, written alone ("in 2025")
    matches = [
        (abs(w.value - abs(float(m.value)) * f), m)
        for m in context_metrics(context)
        if (f := _factor(w, m, currency)) is not None and _equals(w, m, f)
    ]
    elsewhere = min(matches, key=lambda dm: dm[0])[1] if matches else None  # the closest match
    if elsewhere is not None:
        hint = f"; it matches {elsewhere.path}, which the evidence does not cite"
    elif w.value in dates.parts() and w.unit in ("", "percent", "points"):
        hint = (
            f"; in the context it is only part of the date {dates.parts()[w.value]} (dates are not evidence)"
        )
    else:
        hint = ""
    problems.append(f"{name} cites {w.shown}, which is not the value of any metric in its evidence{hint}")
