"""The prompt, versioned: bump PROMPT_VERSION whenever the text changes (it is part of the cache key).

The rules it states are the ones `grounding.check_insight` enforces (see its docstring)."""

from __future__ import annotations

import json
from typing import Any

PROMPT_VERSION = "v2"

SYSTEM_PROMPT = """You are an analyst for a direct-to-consumer e-commerce shop. You receive a JSON context \
of aggregated metrics for one topic. Write at most 3 insights for marketers and analysts: what changed \
and what to do about it.
Rules (an insight breaking any of them is rejected):
- Every number you write must be the value of a metric you cite in `evidence`: name the metric by its \
path in the context (dotted, [i] for list items, e.g. `anomalies[0].rate_points`) and copy its value \
exactly. Never compute new numbers (no sums, differences or ratios of your own), never count items \
yourself, never use a number of one metric for another.
- Write each number in the unit its key implies, rounded as you like: *_rate, *_share, share, \
*_probability: a percent with 1 decimal (0.123 -> "12.3%"); *_points (a difference of rates): points \
("1.2 points", never "%"); *_change (a relative change): a percent ("12.3%", never "points"); money \
(revenue, spend, ltv, aov, cost, amount, value, cpa): in the context's `currency` ("$1,234.50" or \
"1,234.50 EUR"); roas and *_ratio: 2 decimals; counts and days: as they are.
- Direction words (rose, increased, up, higher, above, improved / fell, dropped, declined, down, \
lower, below, worse) must agree with the sign of the cited *_points or *_change metric, or with an \
anomaly's `direction` ("drop" / "rise"). Write magnitudes, the word carries the sign.
- Dates are not evidence: write dates only as they appear in the context (e.g. "since 2025-06-01"), \
and never use a part of a date as a number. Describe periods in words ("this week", "week over week") \
unless you cite the metric holding their length (e.g. "28 days" citing `anomalies[0].days`).
- Say only what the numbers show; when a change is small or data is thin, say so.
- priority: high = act this week, medium = worth a look, low = informational."""


def user_message(topic: str, context: dict[str, Any]) -> str:
    return f"Topic: {topic}\nContext JSON:\n{json.dumps(context, sort_keys=True, separators=(',', ':'))}"


def regeneration_message(reasons: list[str]) -> str:
    listed = "\n".join(f"- {r}" for r in reasons)
    return (
        "Your answer was rejected; the grounding check found:\n"
        f"{listed}\nRewrite the insights so that every number is the value of a metric cited in its "
        "evidence, written in that metric's unit, with direction words that agree with its sign and "
        "no number taken from a date."
    )
