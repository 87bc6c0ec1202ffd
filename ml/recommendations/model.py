"""Item-item collaborative filtering on implicit feedback, with a popularity prior and cold-start trending.

Why item-item cosine (and not ALS): it needs nothing beyond numpy/scipy, trains in milliseconds on a
catalog of hundreds of products, and every recommendation can name the product in the customer's own
history that caused it ("similar to ..."), which the CRM team can show as-is.

A customer's history is one confidence value per product: log1p of purchases (distinct orders),
add-to-carts and product views, each weighted, optionally decayed by the age of the latest
interaction. Item similarity is the cosine of the item columns of that customer x item matrix, shrunk
towards zero for items with little support. A customer's score for an item is history @ similarity,
scaled to [0, 1] per customer, plus a small share of global popularity so ties among weakly-evidenced
items go to items people actually buy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # imported where matrices are built: the code location loads without SciPy
    from scipy import sparse


@dataclass
class HistoryMatrix:
    """Customers' interaction confidences aligned with a model's product index."""

    customer_ids: np.ndarray  # int64, one per row
    confidence: sparse.csr_matrix  # customers x products
    purchased: sparse.csr_matrix  # customers x products, 1 where bought before the cut-off


@dataclass
class ItemItemModel:
    product_ids: np.ndarray  # int64
    titles: list[str]
    categories: list[str]
    repeatable: np.ndarray  # bool
    available: np.ndarray  # bool: launched before the cut-off and active, so recommendable
    similarity: np.ndarray  # float32, products x products
    popularity: np.ndarray  # distinct buyers before the cut-off, scaled to [0, 1]
    trending: np.ndarray  # distinct buyers in the last `recent_days` before the cut-off, scaled to [0, 1]
    fitted_until: dt.datetime
    popularity_blend: float

    # -- building -------------------------------------------------------------------------------

    def history(self, interactions: pd.DataFrame, params, customer_ids=None) -> HistoryMatrix:
        """Confidence and bought-before matrices for `customer_ids` (default: all in `interactions`)."""
        from scipy import sparse

        index = pd.Index(self.product_ids)
        frame = interactions[index.get_indexer(interactions["product_id"]) >= 0]
        if customer_ids is None:
            customer_ids = np.sort(frame["customer_id"].unique())
        customer_ids = np.asarray(customer_ids, dtype=np.int64)
        rows = pd.Index(customer_ids).get_indexer(frame["customer_id"])
        keep = rows >= 0
        frame, rows = frame[keep], rows[keep]
        cols = index.get_indexer(frame["product_id"])
        shape = (len(customer_ids), len(self.product_ids))
        conf = sparse.csr_matrix((confidence(frame, params, self.fitted_until), (rows, cols)), shape=shape)
        bought = (frame["purchases"].to_numpy() > 0).astype(np.float32)
        purchased = sparse.csr_matrix((bought, (rows, cols)), shape=shape)
        purchased.eliminate_zeros()
        return HistoryMatrix(customer_ids, conf, purchased)

    # -- scoring --------------------------------------------------------------------------------

    def recommend(self, history: HistoryMatrix, k: int, batch: int = 4096) -> pd.DataFrame:
        """Top k per customer: (customer_id, rank, product_id, score, reason). Customers without any
        history get trending products; bought non-repeatable products are never recommended."""
        out = []
        for start in range(0, len(history.customer_ids), batch):
            sl = slice(start, start + batch)
            out.append(self._recommend_batch(history.customer_ids[sl], history.confidence[sl],
                                             history.purchased[sl], k))  # fmt: skip
        if not out:
            return pd.DataFrame(columns=["customer_id", "rank", "product_id", "score", "reason"])
        return pd.concat(out, ignore_index=True)

    def _recommend_batch(self, customers, conf, purchased, k) -> pd.DataFrame:
        dense = conf.toarray()
        raw = dense @ self.similarity
        peak = raw.max(axis=1, keepdims=True)
        cf = np.divide(raw, peak, out=np.zeros_like(raw), where=peak > 0)
        scores = cf + self.popularity_blend * self.popularity
        cold = np.asarray(conf.getnnz(axis=1) == 0)
        scores[cold] = self.trending + 1e-3 * self.popularity
        scores = mask_unrecommendable(scores, purchased, self.repeatable, self.available)
        top = top_k(scores, k)
        n, kk = top.shape
        rows = np.repeat(np.arange(n), kk)
        items = top.ravel()
        chosen = scores[rows, items]
        valid = np.isfinite(chosen)
        reasons = self._reasons(dense, purchased, cf, cold, rows, items)
        frame = pd.DataFrame({
            "customer_id": customers[rows], "rank": np.tile(np.arange(1, kk + 1), n),
            "product_id": self.product_ids[items], "score": chosen, "reason": reasons,
        })  # fmt: skip
        return frame[valid].reset_index(drop=True)

    def _reasons(self, dense, purchased, cf, cold, rows, items) -> list[str]:
        """Why each (customer, item) was picked, named by product title or category, never by person."""
        contrib = dense[rows] * self.similarity[:, items].T  # each pick: what each history item added
        source = contrib.argmax(axis=1)
        bought = np.asarray(purchased[rows, items]).ravel() > 0
        reasons = []
        for r, i, j, b in zip(rows, items, source, bought, strict=True):
            if cold[r]:
                reasons.append("trending")
            elif cf[r, i] < self.popularity_blend * self.popularity[i]:  # the prior outweighs the history
                category = self.categories[i]  # a shop without a taxonomy has no category to name
                reasons.append("popular" if category == "uncategorised" else f"popular in {category}")
            elif j == i:
                reasons.append("buy again" if b else "viewed recently")
            else:
                reasons.append(f"similar to {self.titles[j]}")
        return reasons

    def similar_products(self, k: int) -> pd.DataFrame:
        """Top k recommendable products per product by item similarity (positive similarity only)."""
        sim = self.similarity.astype(np.float64).copy()
        np.fill_diagonal(sim, -np.inf)
        sim[:, ~self.available] = -np.inf
        sim[sim <= 0] = -np.inf
        top = top_k(sim, k)
        n, kk = top.shape
        rows = np.repeat(np.arange(n), kk)
        items = top.ravel()
        score = sim[rows, items]
        frame = pd.DataFrame({
            "product_id": self.product_ids[rows], "rank": np.tile(np.arange(1, kk + 1), n),
            "similar_product_id": self.product_ids[items], "score": score,
        })  # fmt: skip
        frame = frame[np.isfinite(score)].reset_index(drop=True)
        frame["rank"] = frame.groupby("product_id").cumcount() + 1
        return frame


def confidence(frame: pd.DataFrame, params, end: dt.datetime) -> np.ndarray:
    """log1p of weighted purchases, carts and views; halved every `half_life_days` of staleness."""
    raw = (
        params.purchase_weight * frame["purchases"].to_numpy(dtype=float)
        + params.cart_weight * frame["carts"].to_numpy(dtype=float)
        + params.view_weight * frame["views"].to_numpy(dtype=float)
    )
    value = np.log1p(raw)
    if params.half_life_days > 0:
        age_days = (pd.Timestamp(end) - frame["last_at"]).dt.total_seconds().to_numpy() / 86400.0
        value = value * np.power(0.5, np.clip(np.nan_to_num(age_days), 0, None) / params.half_life_days)
    return value.astype(np.float32)


def item_similarity(conf: sparse.csr_matrix, shrinkage: float, self_similarity: float) -> np.ndarray:
    """Cosine similarity of item columns, dot / (|a| |b| + shrinkage); the diagonal set to
    `self_similarity` (how much a product in the history counts for itself: re-buys of consumables)."""
    gram = (conf.T @ conf).toarray().astype(np.float64)
    norms = np.sqrt(np.diag(gram))
    sim = gram / (np.outer(norms, norms) + shrinkage)
    np.fill_diagonal(sim, np.where(norms > 0, self_similarity, 0.0))
    return sim.astype(np.float32)


def mask_unrecommendable(
    scores: np.ndarray, purchased: sparse.csr_matrix, repeatable, available
) -> np.ndarray:
    """-inf for products already bought (unless repeatable) and for products not on sale."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    if scores.ndim == 1:
        scores = np.tile(scores, (purchased.shape[0], 1))
    bought = purchased.tocoo()
    blocked = ~repeatable[bought.col]
    scores[bought.row[blocked], bought.col[blocked]] = -np.inf
    scores[:, ~available] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k highest scores, best first (ties by column order)."""
    kk = min(k, scores.shape[1])
    if kk == 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def scaled(values: np.ndarray) -> np.ndarray:
    peak = values.max() if len(values) else 0.0
    return values / peak if peak > 0 else np.zeros_like(values, dtype=np.float64)
