"""Grounding: an insight may only cite numbers that are in its context (within rounding).

Accepted forms of a context value v: v itself at any displayed precision (rounded or truncated to the
digits written), its percent form (0.123 <-> "12.3%"), and its magnitude (a change of -0.05 may be
written "fell 5%"). Integers get no free pass: "3 channels" needs a 3 somewhere in the context.
Numbers inside context strings (dates, months) count as context values too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from ml.insights.schema import Insight

NUMBER = re.compile(r"(?<![\w.])[-+]?\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?(%|pp|k\b|m\b)?", re.IGNORECASE)


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


def text_numbers(text: str) -> list[tuple[float, int, str]]:
    """(value, decimals written, unit) for every number in a text; unit '%', 'pp', 'k', 'm' or ''."""
    found = []
    for m in NUMBER.finditer(text):
        whole, frac, unit = m.group(1), m.group(2) or "", (m.group(3) or "").lower()
        value = float(whole.replace(",", "") + frac)
        if unit == "k":
            value *= 1_000
        elif unit == "m":
            value *= 1_000_000
        decimals = max(len(frac) - 1, 0) if unit not in ("k", "m") else -1
        found.append((value, decimals, unit))
    return found


def _matches(written: float, decimals: int, unit: str, candidates: Iterable[float]) -> bool:
    # "1.2k": 5 % tolerance; otherwise the value rounded or truncated to the digits written
    tol = abs(written) * 0.05 if decimals < 0 else 10.0 ** (-decimals) + 1e-9
    return any(any(abs(written - f) < tol for f in (abs(v), abs(v) * 100)) for v in candidates)


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
        for written, decimals, unit in text_numbers(text):
            if not _matches(written, decimals, unit, values):
                shown = f"{written:,.{max(decimals, 0)}f}{unit}".replace(",", "")
                problems.append(f"{name} cites {shown}, which is not in the context")
    return problems
