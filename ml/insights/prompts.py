"""The prompt, versioned: bump PROMPT_VERSION whenever the text changes (it is part of the cache key)."""

from __future__ import annotations

import json
from typing import Any

PROMPT_VERSION = "v1"

SYSTEM_PROMPT = """You are an analyst for a direct-to-consumer e-commerce shop. You receive a JSON context \
of aggregated metrics for one topic. Write at most 3 insights for marketers and analysts: what changed \
and what to do about it.
Rules:
- Cite only numbers that appear in the context (you may round them, or write a fraction as a percent: \
0.123 -> 12.3%). Never compute new numbers (no sums, differences or ratios of your own), never \
count items yourself, never invent dates.
- Name metrics in `evidence` exactly as in the context (dotted path) with their context values.
- Say only what the numbers show; when a change is small or data is thin, say so.
- priority: high = act this week, medium = worth a look, low = informational."""


def user_message(topic: str, context: dict[str, Any]) -> str:
    return f"Topic: {topic}\nContext JSON:\n{json.dumps(context, sort_keys=True, separators=(',', ':'))}"


def regeneration_message(reasons: list[str]) -> str:
    listed = "\n".join(f"- {r}" for r in reasons)
    return (
        "Your answer was rejected because it cites numbers that are not in the context:\n"
        f"{listed}\nRewrite the insights citing only numbers present in the context."
    )
