"""Shapley values over channel sets (the coalition game of Dalessandro et al., 2012).

The value of a set of channels S is the conversion rate of the journeys whose distinct channels are
exactly S (converting and non-converting journeys), v(empty) = 0 and v(S) = 0 for a set never seen.
For a converting journey with channel set T, each channel i in T gets its Shapley value in the game
restricted to subsets of T,
    phi_i = sum over S in T - {i} of |S|! (|T| - |S| - 1)! / |T|! * (v(S + i) - v(S)),
and the journey's one conversion is split in proportion to the positive phi's (a channel whose
presence lowers the rate gets nothing rather than a negative credit; all non-positive -> equal split).

Exact enumeration is 2^|T| coalitions of the journey's own channels (never of all channels), hence
the per-journey `max_shapley_channels` limit; the value function only needs the observed sets of at
most that many channels (a larger set is no subset of any journey within the limit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from math import factorial

import numpy as np


def coalition_rates(
    paths: Iterable[tuple[frozenset[str], bool]], max_channels: int | None = None
) -> dict[frozenset[str], float]:
    """Conversion rate per exact channel set (only sets of at most `max_channels` channels if given)."""
    seen: Counter = Counter()
    won: Counter = Counter()
    for channels, converted in paths:
        if max_channels is not None and len(channels) > max_channels:
            continue
        seen[channels] += 1
        won[channels] += int(converted)
    return {s: won[s] / seen[s] for s in seen}


def shapley_values(players: frozenset[str], value: dict[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values of `players` for the game S -> value.get(S, 0) on subsets of `players`
    (v(empty) = 0). The 2^n coalition values are looked up once, indexed by bit mask."""
    ordered = sorted(players)
    n = len(ordered)
    if n == 0:
        return {}
    subsets: list[frozenset[str]] = [frozenset()]
    for j, player in enumerate(ordered):  # masks 2^j .. 2^(j+1)-1 = the earlier ones plus player j
        subsets += [s | {player} for s in subsets[: 1 << j]]
    v = np.array([value.get(s, 0.0) if s else 0.0 for s in subsets])
    masks = np.arange(1 << n)
    size = np.array([len(s) for s in subsets])
    weight = np.array([factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)])
    phi = {}
    for j, player in enumerate(ordered):
        without = masks[(masks >> j) & 1 == 0]
        phi[player] = float(np.sum(weight[size[without]] * (v[without | (1 << j)] - v[without])))
    return phi


def credit_shares(players: frozenset[str], value: dict[frozenset[str], float]) -> dict[str, float]:
    """Shares of one conversion of a journey with channel set `players` (they sum to 1)."""
    phi = shapley_values(players, value)
    positive = {c: max(p, 0.0) for c, p in phi.items()}
    total = sum(positive.values())
    if total <= 0:
        return dict.fromkeys(players, 1.0 / len(players))
    return {c: p / total for c, p in positive.items()}
