"""BG/NBD purchase counts + Gamma-Gamma spend: the classic probabilistic LTV baseline.

References: Fader, Hardie & Lee (2005) "Counting your customers the easy way: an alternative to the
Pareto/NBD model" (BG/NBD likelihood, conditional expectation) and Fader, Hardie & Lee (2005) "RFM and
CLV: using iso-value curves" (Gamma-Gamma). Written here rather than taken from `lifetimes` (which is
unmaintained and pins old pandas/scipy); fitted by maximum likelihood with scipy.

Inputs per customer, at a calibration instant: x = repeat purchases, t_x = time of the last purchase
since the first, T = time since the first purchase (any time unit; this project uses weeks). The
Gamma-Gamma spend model is fitted, as in the paper, on the customers with at least one repeat purchase
and the mean value of their repeat purchases (the first one left out); a customer without a repeat
purchase is expected to spend the population mean p·γ / (q − 1).

Fitting: L-BFGS-B with analytic gradients on log parameters (bounded to e^±10), from a fixed set of
starts; the start with the best log-likelihood wins. A single Nelder-Mead run used to stop at a worse
point and report success (`FitInfo` keeps every start's log-likelihood, so that shows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

# scipy.special and scipy.optimize are imported inside the functions that use them: ml.ltv is imported
# when the code location loads (for its Params), which must not pay for SciPy.

LOG_BOUND = 10.0  # parameters are optimised as log values within [-LOG_BOUND, LOG_BOUND]
TIE = 1e-9  # objective values (mean negative log-likelihood per customer) this close are the same optimum
GRADIENT_TOL = 1e-6  # ... and a gradient this small (per customer, on log parameters) is an optimum


class FitError(ValueError):
    """No start reached a finite log-likelihood (degenerate inputs, e.g. no customer at all)."""


@dataclass(frozen=True)
class FitInfo:
    """How a maximum-likelihood fit went: the total log-likelihood at the winning start (penalty
    excluded), how many starts were run, which won (0-based), every start's final total
    log-likelihood (NaN when it failed) and whether the optimiser reported convergence at the winner."""

    log_likelihood: float
    starts: int
    best_start: int
    start_log_likelihoods: tuple[float, ...]
    converged: bool
    customers: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Optimum:
    x: np.ndarray  # the winning log parameters
    info: FitInfo


def minimize_from_starts(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: Sequence[Sequence[float]],
    total: Callable[[np.ndarray], float],
    customers: int,
) -> Optimum:
    """L-BFGS-B of `objective` (value and gradient at log parameters) from every start (log values),
    keeping the lowest value; `total` gives the reported total log-likelihood at a point. Raises
    FitError when no start ends at a finite value."""
    from scipy import optimize

    results = []
    for start in starts:
        x0 = np.clip(np.asarray(start, dtype=float), -LOG_BOUND, LOG_BOUND)
        with np.errstate(all="ignore"):
            res = optimize.minimize(
                objective,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-LOG_BOUND, LOG_BOUND)] * len(x0),
                options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-9},
            )
        results.append(res)
    values = np.array([r.fun if np.isfinite(r.fun) else np.inf for r in results])
    if not np.isfinite(values).any():
        raise FitError(f"no start of {len(results)} reached a finite log-likelihood")
    # the first start within numerical noise of the best value wins (starts that reach the same optimum
    # differ in the last digits; the winner should not depend on that)
    best = int(np.flatnonzero(values <= values.min() + TIE * max(1.0, abs(values.min())))[0])
    winner = results[best]
    with np.errstate(all="ignore"):
        lls = tuple(
            float(total(r.x)) if np.isfinite(v) else float("nan")
            for r, v in zip(results, values, strict=True)
        )
    info = FitInfo(
        log_likelihood=lls[best],
        starts=len(results),
        best_start=best,
        start_log_likelihoods=lls,
        # L-BFGS-B may end its line search "abnormally" at the optimum itself: a vanishing gradient
        # is convergence too
        converged=bool(winner.success or np.max(np.abs(winner.jac)) < GRADIENT_TOL),
        customers=customers,
    )
    return Optimum(winner.x, info)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    fit: FitInfo | None = field(default=None, compare=False, repr=False)  # set by fit_bgnbd

    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

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
    return _bgnbd_terms(params, *(np.asarray(v, dtype=float) for v in (x, t_x, T)), gradient=False)[0]


def _bgnbd_terms(params, x, t_x, T, gradient: bool):
    """Per-customer log-likelihood and (if asked) its gradient with respect to (r, alpha, a, b).
    The terms that depend on x only are computed once per distinct x (x takes few values)."""
    from scipy import special

    r, alpha, a, b = params
    ux, inv = np.unique(x, return_inverse=True)
    head = (
        special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha)
        + special.gammaln(a + b) + special.gammaln(b + ux) - special.gammaln(b) - special.gammaln(a + b + ux)
    )  # fmt: skip
    rx = r + x
    log_at = np.log(alpha + T)
    a3 = -rx * log_at
    pos = x > 0
    log_atx = np.log(alpha + t_x)
    bx1 = np.where(pos, b + x - 1, 1.0)
    a4 = np.where(pos, np.log(a) - np.log(bx1) - rx * log_atx, -np.inf)
    top = np.logaddexp(a3, a4)
    ll = head[inv] + top
    if not gradient:
        return ll, None
    w3, w4 = np.exp(a3 - top), np.where(pos, np.exp(a4 - top), 0.0)
    dr = (special.digamma(r + ux) - special.digamma(r))[inv] + np.log(alpha) - w3 * log_at - w4 * log_atx
    dalpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    da = (special.digamma(a + b) - special.digamma(a + b + ux))[inv] + w4 / a
    db = (
        special.digamma(a + b) + special.digamma(b + ux) - special.digamma(b) - special.digamma(a + b + ux)
    )[inv] - w4 / bx1
    return ll, np.stack([dr, dalpha, da, db])


def bgnbd_starts(x, T) -> list[list[float]]:
    """Fixed starts (natural scale) spread over the plausible region: purchase-rate shape r from
    heterogeneous to nearly homogeneous, alpha set so the mean rate r / alpha matches the observed
    repeat rate, and dropout Beta(a, b) from rare to frequent; plus the old single start."""
    rate = max(float(np.sum(x)) / max(float(np.sum(T)), 1e-9), 1e-6)  # repeat purchases per unit time
    starts = [[1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0]]
    for r in (0.25, 1.0, 4.0):
        for a, b in ((0.5, 2.0), (2.0, 8.0), (1.0, 0.5)):
            starts.append([r, r / rate, a, b])
    return starts


def fit_bgnbd(x, t_x, T, penalizer: float = 0.0, starts: Sequence[Sequence[float]] | None = None) -> BgNbd:
    """Maximum likelihood BG/NBD (optionally with an L2 penalty on the parameters) from `starts`
    (natural scale; default `bgnbd_starts`); the result's `fit` says how it went."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    n = max(len(x), 1)

    def objective(log_params):
        params = np.exp(log_params)
        ll, grad = _bgnbd_terms(params, x, t_x, T, gradient=True)
        value = -ll.sum() / n + penalizer * (params**2).sum()
        g = -grad.sum(axis=1) / n * params + 2 * penalizer * params**2
        return (value, g) if np.isfinite(value) else (np.inf, np.zeros_like(g))

    starts = bgnbd_starts(x, T) if starts is None else starts
    best = minimize_from_starts(
        objective,
        [np.log(s) for s in starts],
        lambda lp: bgnbd_log_likelihood(np.exp(lp), x, t_x, T).sum(),
        len(x),
    )
    return BgNbd(*(float(v) for v in np.exp(best.x)), fit=best.info)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    fit: FitInfo | None = field(default=None, compare=False, repr=False)  # set by fit_gamma_gamma

    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    def population_mean(self) -> float:
        """E[value per transaction] of a customer with no repeat purchase: p·γ / (q − 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def expected_spend(self, n, mean_value) -> np.ndarray:
        """E[value per transaction | n repeat transactions averaging mean_value]; the population mean
        at n=0 (mean_value is then ignored)."""
        n, m = np.asarray(n, dtype=float), np.asarray(mean_value, dtype=float)
        m = np.where(n > 0, m, 0.0)
        p, q, g = self.p, self.q, self.gamma
        return (p * (g + n * m)) / (p * n + q - 1)


def gamma_gamma_log_likelihood(params, n, mean_value) -> np.ndarray:
    return _gamma_gamma_terms(params, np.asarray(n, float), np.asarray(mean_value, float), gradient=False)[0]


def _gamma_gamma_terms(params, n, m, gradient: bool):
    from scipy import special

    p, q, g = params
    px = p * n
    log_gm = np.log(g + n * m)
    ll = (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
        + (px - 1) * np.log(m) + px * np.log(n) - (px + q) * log_gm
    )  # fmt: skip
    if not gradient:
        return ll, None
    psi = special.digamma(px + q)
    dp = n * (psi - special.digamma(px) + np.log(m) + np.log(n) - log_gm)
    dq = psi - special.digamma(q) + np.log(g) - log_gm
    dg = q / g - (px + q) / (g + n * m)
    return ll, np.stack([dp, dq, dg])


def gamma_gamma_starts(mean_value) -> list[list[float]]:
    """Fixed starts (natural scale): shapes p and q from flat to peaked, γ set so the start's
    population mean p·γ/(q−1) equals the observed mean; plus the old single start."""
    mean = max(float(np.mean(mean_value)), 1e-3) if len(mean_value) else 1.0
    starts = [[1.0, 2.0, mean]]
    for p in (0.5, 2.0, 8.0):
        for q in (1.5, 4.0, 10.0):
            starts.append([p, q, mean * (q - 1) / p])
    return starts


def fit_gamma_gamma(
    n, mean_value, penalizer: float = 0.0, starts: Sequence[Sequence[float]] | None = None
) -> GammaGamma:
    """Fit on customers with n >= 1 repeat transactions of positive mean value (the others are
    dropped: the model is for repeat spend, FHL 2005); the result's `fit` says how it went."""
    n, m = np.asarray(n, dtype=float), np.asarray(mean_value, dtype=float)
    keep = (n >= 1) & (m > 0) & np.isfinite(m)
    n, m = n[keep], m[keep]
    count = max(len(n), 1)

    def objective(log_params):
        params = np.exp(log_params)
        ll, grad = _gamma_gamma_terms(params, n, m, gradient=True)
        value = -ll.sum() / count + penalizer * (params**2).sum()
        g = -grad.sum(axis=1) / count * params + 2 * penalizer * params**2
        return (value, g) if np.isfinite(value) and len(n) else (np.inf, np.zeros_like(g))

    starts = gamma_gamma_starts(m) if starts is None else starts
    best = minimize_from_starts(
        objective,
        [np.log(s) for s in starts],
        lambda lp: gamma_gamma_log_likelihood(np.exp(lp), n, m).sum(),
        len(n),
    )
    return GammaGamma(*(float(v) for v in np.exp(best.x)), fit=best.info)
