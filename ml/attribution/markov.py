"""First-order Markov chain over channel paths and each channel's removal effect.

States: START, the channels, and the absorbing CONVERSION and NULL (no conversion). Transition
probabilities are the observed transition counts, normalised per state. The chain's conversion
probability is the probability of absorption in CONVERSION from START; a channel's removal effect is
the relative drop of that probability when every transition into the channel goes to NULL instead:
    RE(c) = 1 - P(conversion | c removed) / P(conversion).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


@dataclass
class MarkovChain:
    channels: list[str]
    transitions: np.ndarray  # (n+3) x (n+3) row-stochastic: START, channels..., CONVERSION, NULL

    @property
    def states(self) -> list[str]:
        return [START, *self.channels, CONVERSION, NULL]

    def conversion_probability(self, removed: str | None = None) -> float:
        """Absorption probability in CONVERSION from START, with `removed` sent to NULL."""
        n = len(self.channels)
        t = self.transitions
        q = t[1 : n + 1, 1 : n + 1].copy()  # channel -> channel
        r = t[1 : n + 1, n + 1].copy()  # channel -> conversion
        if removed is not None:
            k = self.channels.index(removed)
            q[k, :] = 0.0
            r[k] = 0.0
        absorbed = np.linalg.solve(np.eye(n) - q, r)  # x = Q x + r
        start = t[0, 1 : n + 1].copy()
        if removed is not None:
            start[self.channels.index(removed)] = 0.0
        return float(start @ absorbed + t[0, n + 1])

    def removal_effects(self) -> dict[str, float]:
        base = self.conversion_probability()
        if base <= 0:
            return dict.fromkeys(self.channels, 0.0)
        return {c: 1.0 - self.conversion_probability(removed=c) / base for c in self.channels}


def fit_chain(
    paths: Iterable[tuple[tuple[str, ...], bool]], weights: Iterable[float] | None = None
) -> MarkovChain:
    """Transition counts from (channels, converted) paths (each weighted, default 1) -> the chain."""
    counts: Counter = Counter()
    pairs = list(paths)
    weights = [1.0] * len(pairs) if weights is None else list(weights)
    for (channels, converted), w in zip(pairs, weights, strict=True):
        if not channels:
            continue
        walk = [START, *channels, CONVERSION if converted else NULL]
        for a, b in zip(walk, walk[1:], strict=False):
            counts[(a, b)] += w
    channels = sorted({c for chans, _ in pairs for c in chans})
    index = {s: i for i, s in enumerate([START, *channels, CONVERSION, NULL])}
    t = np.zeros((len(index), len(index)))
    for (a, b), w in counts.items():
        t[index[a], index[b]] += w
    rows = t.sum(axis=1, keepdims=True)
    t = np.divide(t, rows, out=np.zeros_like(t), where=rows > 0)
    t[index[CONVERSION], index[CONVERSION]] = 1.0
    t[index[NULL], index[NULL]] = 1.0
    return MarkovChain(channels=channels, transitions=t)
