"""Grounding: an insight may only cite numbers that are in its context (within rounding).

Accepted forms of a context value v: v itself at any displayed precision (rounded half-way either
direction, or truncated, to the digits written: 0.1234 may be "0.12" but not "0.13"), its percent
form (0.123 <-> "12.3%"), and its magnitude (a change of -0.05 may be written "fell 5%"). "1.2k" and
"1.2m" are rounded the same way at their scale. Integers get no free pass: "3 channels" needs a 3
somewhere in the context. Numbers inside context strings (dates, months) count as context values too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from ml.insights.schema import Insight

NUMBER = re.compile(
    r"(?<![\w.])[-+]?\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(e[-+]?\d+)?\s?(%|pp|k\b|m\b)?", re.IGNORECASE
)
SCALE = {"k": 1_000.0, "m": 1_000_000.0}


def context_numbers(context: Any) -> list[float]:
    """Every numeric leaf of the context, plus numbers written inside its strings."""
    out: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, int | float):
            if math.isfinite(node):
                out.append(float(node))
        elif isinstance(node, str):
            out.extend(abs(n) for n, _, _ in text_numbers(node))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(k)
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)

    walk(context)
    return out


def text_numbers(text: str) -> list[tuple[float, float, str]]:
    """(value, step of the last digit written, text as written) for every number in a text.

    The step is what "within rounding" is measured in: "12.3%" has step 0.1, "1,235" step 1,
    "1.2k" step 100, "1.23e+06" step 10,000.
    """
    found = []
    for m in NUMBER.finditer(text):
        whole, frac, exp, unit = m.group(1), m.group(2) or "", m.group(3) or "", (m.group(4) or "").lower()
        scale = SCALE.get(unit, 1.0) * (10.0 ** int(exp[1:]) if exp else 1.0)
        value = float(whole.replace(",", "") + frac) * scale
        step = 10.0 ** -max(len(frac) - 1, 0) * scale
        found.append((value, step, m.group(0).strip()))
    return found


def _matches(written: float, step: float, candidates: Iterable[float]) -> bool:
    """`written` is some candidate (or its percent form) rounded or truncated to `step`."""
    for v in candidates:
        for f in (abs(v), abs(v) * 100):
            eps = 1e-9 * max(1.0, f)
            rounded = abs(written - f) <= step / 2 + eps
            truncated = -eps <= f - written < step - eps
            if rounded or truncated:
                return True
    return False


def check_insight(insight: Insight, context: Any) -> list[str]:
    """Numbers in the insight's text (and evidence values) that the context does not contain."""
    values = context_numbers(context)
    problems: list[str] = []
    fields = {
        "headline": insight.headline,
        "observation": insight.observation,
        "recommendation": insight.recommendation,
    }
    for ev in insight.evidence:
        fields[f"evidence {ev.metric}"] = str(ev.value)
    for name, text in fields.items():
        for written, step, shown in text_numbers(text):
            if not _matches(written, step, values):
                problems.append(f"{name} cites {shown}, which is not in the context")
    return problems
