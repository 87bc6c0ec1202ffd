"""Counter-based randomness: every draw is a pure function of (seed, entity or day, stream).

Why not one sequential generator: the value drawn for a customer or a day must not depend on how many
other customers or days were simulated before it (see the determinism rule in docs/sandbox.md). A
splitmix64 hash of the keys gives independent uniforms for millions of entities in one numpy call;
per-day counts use `np.random.default_rng([seed, day, stream])`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash64(*keys: int | np.ndarray) -> np.ndarray:
    """A 64-bit hash of the broadcast keys (ints or int arrays), as uint64."""
    with np.errstate(over="ignore"):
        h = np.asarray(_GOLDEN, dtype=np.uint64)
        for key in keys:
            k = np.asarray(key)
            k = k.astype(np.uint64) if k.dtype != np.uint64 else k
            h = _mix(h ^ (k * _GOLDEN + np.uint64(0x632BE59BD9B4E019)))
        return h


def uniform(*keys: int | np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) keyed on the broadcast keys."""
    return (hash64(*keys) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(*keys: int | np.ndarray) -> np.ndarray:
    """Standard normals keyed on the keys."""
    u = uniform(*keys)
    return special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def exponential(mean: float | np.ndarray, *keys: int | np.ndarray) -> np.ndarray:
    """Exponential draws with the given mean."""
    return -np.log1p(-uniform(*keys)) * mean


def gamma(shape: float | np.ndarray, scale: float | np.ndarray, *keys: int | np.ndarray) -> np.ndarray:
    """Gamma draws by inverting the regularized incomplete gamma function."""
    u = np.clip(uniform(*keys), 1e-12, 1 - 1e-12)
    return special.gammaincinv(shape, u) * scale


def choice(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn from `weights` (1-D, or 2-D with one row per draw) for each uniform in `u`."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w, axis=-1)
    if w.ndim == 1:
        idx = np.searchsorted(cdf / cdf[-1], u, side="right")
        return np.minimum(idx, len(w) - 1)
    cdf = cdf / cdf[:, -1:]
    idx = (u[:, None] >= cdf).sum(axis=1)
    return np.minimum(idx, w.shape[1] - 1)


def day_rng(seed: int, day: int, stream: int) -> np.random.Generator:
    """The random stream of one simulated day for one purpose."""
    return np.random.default_rng([seed, day, stream])


def uuid_strings(h1: np.ndarray, h2: np.ndarray) -> list[str]:
    """Format two uint64 hash arrays as RFC-4122-shaped (version 5) UUID strings."""
    out = []
    for a, b in zip(h1.tolist(), h2.tolist(), strict=True):
        s = f"{a:016x}{b:016x}"
        out.append(f"{s[:8]}-{s[8:12]}-5{s[13:16]}-{'89ab'[int(s[16], 16) & 3]}{s[17:20]}-{s[20:32]}")
    return out
