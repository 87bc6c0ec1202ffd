"""BG/NBD purchase counts + Gamma-Gamma spend: the classic probabilistic LTV baseline, in ~100 lines.

References: Fader, Hardie & Lee (2005) "Counting your customers the easy way: an alternative to the
Pareto/NBD model" (BG/NBD likelihood, conditional expectation) and Fader, Hardie & Lee (2005) "RFM and
CLV: using iso-value curves" (Gamma-Gamma). Written here rather than taken from `lifetimes` (which is
unmaintained and pins old pandas/scipy); fitted by maximum likelihood with scipy on log parameters.

Inputs per customer, at a calibration instant: x = repeat purchases, t_x = time of the last purchase
since the first, T = time since the first purchase (any time unit; this project uses weeks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# scipy.special and scipy.optimize are imported inside the functions that use them: ml.ltv is imported
# when the code location loads (for its Params), which must not pay for SciPy.


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10)."""
        from scipy import special

        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t, x, t_x, T = (np.asarray(v, dtype=float) for v in (t, x, t_x, T))
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        alive_odds = np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0
        )
        return first / (1 + alive_odds)

    def expected_purchases_new(self, t) -> np.ndarray:
        """E[X(t)] for a customer just acquired (FHL 2005, eq. 7)."""
        from scipy import special

        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def probability_alive(self, x, t_x, T) -> np.ndarray:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        odds = a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return np.where(x > 0, 1 / (1 + odds), 1.0)


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood (FHL 2005, eq. 6)."""
    from scipy import special

    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x, t_x, T, penalizer: float = 0.0) -> BgNbd:
    from scipy import optimize

    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))

    def loss(log_params):
        params = np.exp(log_params)
        return -bgnbd_log_likelihood(params, x, t_x, T).mean() + penalizer * (params**2).sum()

    start = np.log([1.0, max(T.mean(), 1e-3), 1.0, 1.0])
    best = optimize.minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10}
    )
    return BgNbd(*(float(v) for v in np.exp(best.x)))


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    def expected_spend(self, n, mean_value) -> np.ndarray:
        """E[value per transaction | n transactions averaging mean_value]; the population mean at n=0."""
        n, m = np.asarray(n, dtype=float), np.asarray(mean_value, dtype=float)
        p, q, g = self.p, self.q, self.gamma
        return (p * (g + n * m)) / (p * n + q - 1)


def gamma_gamma_log_likelihood(params, n, mean_value) -> np.ndarray:
    from scipy import special

    p, q, g = params
    px = p * n
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(mean_value)
        + px * np.log(n)
        - (px + q) * np.log(g + n * mean_value)
    )


def fit_gamma_gamma(n, mean_value, penalizer: float = 0.0) -> GammaGamma:
    """Fit on customers with n >= 1 transactions of positive mean value."""
    from scipy import optimize

    n, m = np.asarray(n, dtype=float), np.asarray(mean_value, dtype=float)
    keep = (n >= 1) & (m > 0)
    n, m = n[keep], m[keep]

    def loss(log_params):
        params = np.exp(log_params)
        return -gamma_gamma_log_likelihood(params, n, m).mean() + penalizer * (params**2).sum()

    start = np.log([1.0, 2.0, max(m.mean(), 1e-3)])
    best = optimize.minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10}
    )
    return GammaGamma(*(float(v) for v in np.exp(best.x)))
