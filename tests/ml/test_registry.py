"""The promotion rule, the model store and ml.model_runs bookkeeping (real Postgres)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from ml import registry
from ml.core import Evaluation


def _ev(model: float, baseline: float, higher: bool = True) -> Evaluation:
    return Evaluation(
        metrics={"m": model}, baseline_metrics={"m": baseline}, primary_metric="m",
        higher_is_better=higher, baseline_name="base",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "baseline", "champion", "tolerance", "promoted", "says"),
    [
        (0.85, 0.80, None, 0.02, True, "first model"),
        (0.79, 0.80, None, 0.02, False, "does not beat baseline"),
        (0.80, 0.80, None, 0.02, False, "does not beat baseline"),  # a tie is not a win
        (0.86, 0.80, 0.85, 0.02, True, "within champion"),  # better than the champion
        (0.84, 0.80, 0.85, 0.02, True, "within champion"),  # 0.84 >= 0.85 * 0.98 = 0.833
        (0.83, 0.80, 0.85, 0.02, False, "worse than champion"),  # 0.83 < 0.833
        (0.84, 0.86, 0.80, 0.02, False, "does not beat baseline"),  # beats champion, not baseline
    ],
)
def test_promotion_rule_higher_is_better(model, baseline, champion, tolerance, promoted, says):
    decision = registry.decide(_ev(model, baseline), champion, tolerance)
    assert decision.promoted is promoted
    assert says in decision.reason


@pytest.mark.parametrize(
    ("model", "baseline", "champion", "promoted"),
    [
        (10.0, 12.0, None, True),
        (12.5, 12.0, None, False),
        (10.1, 12.0, 10.0, True),  # within 2 % above the champion's error: 10.1 <= 10.2
        (10.3, 12.0, 10.0, False),  # 10.3 > 10.2
    ],
)
def test_promotion_rule_lower_is_better(model, baseline, champion, promoted):
    assert registry.decide(_ev(model, baseline, higher=False), champion, 0.02).promoted is promoted


def test_model_store_round_trip_local_and_fsspec(tmp_path):
    local = registry.ModelStore(str(tmp_path / "models"))
    uri = local.save("churn", "v1", {"weights": [1, 2, 3]})
    assert uri.endswith("churn/v1.pkl") and (tmp_path / "models" / "churn" / "v1.pkl").exists()
    assert local.load(uri) == {"weights": [1, 2, 3]}
    memory = registry.ModelStore("memory://journey-test-models")
    assert memory.load(memory.save("ltv", "v2", [4.5])) == [4.5]


def test_model_runs_and_champion(warehouse):
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        registry.ensure_table(conn)
        conn.execute("delete from ml.model_runs where model = 'unit_test_model'")  # the e2e tier shares it
        assert registry.champion(conn, "unit_test_model") is None
        for version, value, promoted in (("v1", 0.81, True), ("v2", 0.70, False)):
            registry.record_run(
                conn, model_name="unit_test_model", version=version, as_of=dt.date(2026, 1, 1),
                evaluation=_ev(value, 0.75), params={"depth": 3}, row_counts={"train": 10},
                artifact_uri=f"memory://x/{version}.pkl", decision=registry.Decision(promoted, "why"),
                champion_version=None, champion_metric=None, train_seconds=1.0,
            )  # fmt: skip
        champ = registry.champion(conn, "unit_test_model")
        assert champ is not None and champ.version == "v1" and champ.metric == pytest.approx(0.81)
        rows = conn.execute(
            "select version, promoted, reason, metrics->>'m' from ml.model_runs where model = 'unit_test_model' order by version"
        ).fetchall()
        assert rows == [("v1", True, "why", "0.81"), ("v2", False, "why", "0.7")]
        conn.execute("delete from ml.model_runs where model = 'unit_test_model'")
