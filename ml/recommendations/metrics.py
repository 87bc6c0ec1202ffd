"""Top-k ranking metrics for the recommendation holdout, binary relevance.

Each user's list is judged against the set of products they actually bought in the holdout window.
Averages are over users with at least one relevant item (users who bought nothing in the window have
no ground truth and are not scored). precision@k divides by k even when a list is shorter, so a
recommender cannot look better by recommending less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def precision_at_k(recommended: Sequence, relevant: set, k: int = 10) -> float:
    """Share of the k slots filled with a relevant item."""
    hits = sum(1 for item in list(recommended)[:k] if item in relevant)
    return hits / k


def recall_at_k(recommended: Sequence, relevant: set, k: int = 10) -> float:
    """Share of the relevant items found in the top k."""
    if not relevant:
        return 0.0
    hits = sum(1 for item in list(recommended)[:k] if item in relevant)
    return hits / len(relevant)


def ndcg_at_k(recommended: Sequence, relevant: set, k: int = 10) -> float:
    """DCG of the list (gain 1 per relevant item, discount log2(rank + 1)) over the ideal DCG."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / np.log2(rank + 2) for rank, item in enumerate(list(recommended)[:k]) if item in relevant)
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return float(dcg / ideal)


def catalog_coverage(lists: Iterable[Sequence], catalog_size: int, k: int = 10) -> float:
    """Share of the catalog that appears in at least one user's top k."""
    if catalog_size <= 0:
        return 0.0
    shown = {item for items in lists for item in list(items)[:k]}
    return len(shown) / catalog_size


def ranking_metrics(
    recommendations: Mapping[object, Sequence], truth: Mapping[object, set], catalog_size: int, k: int = 10
) -> dict[str, float]:
    """Mean precision/recall/NDCG@k over the users in `truth`, and catalog coverage of their lists."""
    users = [u for u, rel in truth.items() if rel]
    lists = [list(recommendations.get(u, []))[:k] for u in users]
    if not users:
        return {f"precision_at_{k}": 0.0, f"recall_at_{k}": 0.0, f"ndcg_at_{k}": 0.0, "catalog_coverage": 0.0}
    return {
        f"precision_at_{k}": float(
            np.mean([precision_at_k(r, truth[u], k) for u, r in zip(users, lists, strict=True)])
        ),
        f"recall_at_{k}": float(
            np.mean([recall_at_k(r, truth[u], k) for u, r in zip(users, lists, strict=True)])
        ),
        f"ndcg_at_{k}": float(
            np.mean([ndcg_at_k(r, truth[u], k) for u, r in zip(users, lists, strict=True)])
        ),
        "catalog_coverage": catalog_coverage(lists, catalog_size, k),
    }
