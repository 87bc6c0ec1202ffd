"""Shapley values over channel sets (the coalition game of Dalessandro et al., 2012).

The value of a set of channels S is the conversion rate of the journeys whose distinct channels are
exactly S (converting and non-converting journeys), v(empty) = 0 and v(S) = 0 for a set never seen.
For a converting journey with channel set T, each channel i in T gets its Shapley value in the game
restricted to subsets of T,
    phi_i = sum over S in T - {i} of |S|! (|T| - |S| - 1)! / |T|! * (v(S + i) - v(S)),
and the journey's one conversion is split in proportion to the positive phi's (a channel whose
presence lowers the rate gets nothing rather than a negative credit; all non-positive -> equal split).
Exact enumeration is 2^|T| per distinct set, hence the `max_shapley_channels` limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import combinations
from math import factorial


def coalition_rates(paths: Iterable[tuple[frozenset[str], bool]]) -> dict[frozenset[str], float]:
    """Conversion rate per exact channel set."""
    seen: Counter = Counter()
    won: Counter = Counter()
    for channels, converted in paths:
        seen[channels] += 1
        won[channels] += int(converted)
    return {s: won[s] / seen[s] for s in seen}


def shapley_values(players: frozenset[str], value: dict[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values of `players` for the game S -> value.get(S, 0) on subsets of `players`."""
    ordered = sorted(players)
    n = len(ordered)
    v = lambda s: value.get(frozenset(s), 0.0)  # noqa: E731
    phi = {}
    for i in ordered:
        others = [p for p in ordered if p != i]
        total = 0.0
        for k in range(n):
            weight = factorial(k) * factorial(n - k - 1) / factorial(n)
            for subset in combinations(others, k):
                total += weight * (v((*subset, i)) - v(subset))
        phi[i] = total
    return phi


def credit_shares(players: frozenset[str], value: dict[frozenset[str], float]) -> dict[str, float]:
    """Shares of one conversion of a journey with channel set `players` (they sum to 1)."""
    phi = shapley_values(players, value)
    positive = {c: max(p, 0.0) for c, p in phi.items()}
    total = sum(positive.values())
    if total <= 0:
        return dict.fromkeys(players, 1.0 / len(players))
    return {c: p / total for c, p in positive.items()}
