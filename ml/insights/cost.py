"""Estimated cost of a generation: the one place holding prices (USD per million tokens)."""

from __future__ import annotations

# (prompt, completion) USD per 1M tokens; list prices, update here when they change.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
}


def estimate_cost(model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD cost, or None when the model is not in the price table (unknown beats wrong)."""
    if model is None:
        return None
    price = PRICES_PER_MILLION.get(model)
    if price is None:
        # dated snapshots ("gpt-4o-mini-2024-07-18") price like their family
        family = max((m for m in PRICES_PER_MILLION if model.startswith(m + "-")), key=len, default=None)
        if family is None:
            return None
        price = PRICES_PER_MILLION[family]
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000, 8)
