"""The promotion rule, the model store and ml.model_runs bookkeeping (real Postgres)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from ml import registry
from ml.core import Evaluation, GuardRail, InsufficientData


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


def _railed(**metrics: tuple[float, float]) -> Evaluation:
    """An LTV-like evaluation: mae primary (lower is better), model vs baseline per metric, a naive
    zero predictor as reference, and the guard rails the LTV package uses."""
    return Evaluation(
        metrics={k: m for k, (m, _) in metrics.items()},
        baseline_metrics={k: b for k, (_, b) in metrics.items()},
        primary_metric="mae", higher_is_better=False, baseline_name="bgnbd",
        references={"zero": {"mae": 33.0}},
        guard_rails=[
            GuardRail("aggregate_error", higher_is_better=False, tolerance=0.02),
            GuardRail("spearman", higher_is_better=True, tolerance=0.02),
            GuardRail("mae", higher_is_better=False, against="zero"),
        ],
    )  # fmt: skip


def test_a_candidate_better_on_the_primary_metric_but_worse_on_a_guard_rail_is_not_promoted():
    ev = _railed(mae=(31.0, 32.0), aggregate_error=(0.25, 0.10), spearman=(0.60, 0.55))
    decision = registry.decide(ev, None, 0.02)
    assert not decision.promoted
    assert "guard rail failed: aggregate_error 0.2500 fails <= 0.1200" in decision.reason
    assert [r.passed for r in decision.rails] == [False, True, True]
    # within the tolerance of the baseline's aggregate error, the same candidate is promoted
    ok = registry.decide(
        _railed(mae=(31.0, 32.0), aggregate_error=(0.115, 0.10), spearman=(0.6, 0.55)), None, 0.02
    )
    assert ok.promoted and "guard rails held (3)" in ok.reason


def test_a_candidate_no_better_than_predicting_zero_is_not_promoted():
    ev = _railed(mae=(33.5, 40.0), aggregate_error=(0.05, 0.10), spearman=(0.6, 0.55))
    decision = registry.decide(ev, None, 0.02)
    assert not decision.promoted and "mae 33.5000 fails <= 33.0000 (zero 33.0000)" in decision.reason


def test_guard_rails_against_a_limit_and_not_applicable_metrics():
    coverage = GuardRail("interval_coverage_error", higher_is_better=False, limit=0.05)
    per_category = GuardRail("smape_categories", higher_is_better=False, tolerance=0.05)
    ev = Evaluation(
        metrics={"smape": 0.2, "interval_coverage_error": 0.08}, baseline_metrics={"smape": 0.3},
        primary_metric="smape", higher_is_better=False, guard_rails=[coverage, per_category],
    )  # fmt: skip
    held = ev.check_rails()
    assert [r.passed for r in held] == [False, True]
    assert held[0].bound == 0.05 and "limit 0.0500" in held[0].text
    assert "n/a" in held[1].text  # a shop without categories has no per-category sMAPE
    ev.metrics["interval_coverage_error"] = 0.04
    assert registry.decide(ev, None, 0.02).promoted
    ev.metrics["interval_coverage_error"] = float("nan")  # undefined where a number is required: fails
    assert not registry.decide(ev, None, 0.02).promoted


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


def test_skipped_runs_are_recorded_and_never_become_champions(warehouse):
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        registry.ensure_table(conn)
        conn.execute("delete from ml.model_runs where model = 'unit_test_skip'")
        skip = InsufficientData("3 customers; needs 20", customers=3, min_customers=20, first="2025-01-01")
        registry.record_skip(
            conn, model_name="unit_test_skip", version="s1", as_of=dt.date(2026, 1, 1), skip=skip,
            params={"depth": 3}, seconds=0.1,
        )  # fmt: skip
        assert registry.champion(conn, "unit_test_skip") is None
        last = registry.last_run(conn, "unit_test_skip")
        assert (last.version, last.status, last.promoted, last.reason) == (
            "s1",
            "skipped",
            False,
            "3 customers; needs 20",
        )
        row = conn.execute(
            """select metrics, baseline_metrics, primary_metric, baseline_name, artifact_uri, row_counts,
                      data_window, params
               from ml.model_runs where model = 'unit_test_skip'"""
        ).fetchone()
        assert row == (
            {}, {}, None, None, None, {"customers": 3},
            {"as_of": "2026-01-01", "customers": 3, "min_customers": 20, "first": "2025-01-01"}, {"depth": 3},
        )  # fmt: skip
        conn.execute("delete from ml.model_runs where model = 'unit_test_skip'")


OLD_DDL = """
create table ml.model_runs (
    run_id text primary key, model text not null, version text not null,
    trained_at timestamptz not null, as_of date not null, data_window jsonb not null,
    row_counts jsonb not null, params jsonb not null, primary_metric text not null,
    higher_is_better boolean not null, metrics jsonb not null, baseline_name text not null,
    baseline_metrics jsonb not null, champion_version text, champion_metric double precision,
    artifact_uri text not null, promoted boolean not null, reason text not null,
    train_seconds double precision
)
"""


def test_a_model_runs_table_from_before_skips_is_migrated_once(warehouse):
    """ml.model_runs as earlier releases created it: existing rows become 'trained', the columns a
    skipped run has no value for become nullable, and re-running the migration changes nothing."""
    import dataclasses

    from ingestion.warehouse import init_warehouse

    settings = dataclasses.replace(warehouse, database="journey_registry_migration")
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute("drop database if exists journey_registry_migration with (force)")
        conn.execute("create database journey_registry_migration")
    init_warehouse(settings)
    with psycopg.connect(settings.role_url("transformer")) as conn:
        conn.execute(OLD_DDL)
        conn.execute(
            """insert into ml.model_runs values ('r0', 'churn', 'v0', now(), '2026-01-01', '{}', '{}', '{}',
               'roc_auc', true, '{"roc_auc": 0.8}', 'recency', '{"roc_auc": 0.7}', null, null,
               'memory://x/v0.pkl', true, 'first model', 1.0)"""
        )
        for _ in range(2):
            registry.ensure_table(conn)
        assert registry.champion(conn, "churn").version == "v0"
        assert registry.last_run(conn, "churn").status == "trained"
        nullable = dict(
            conn.execute(
                """select column_name, is_nullable from information_schema.columns
                   where table_schema = 'ml' and table_name = 'model_runs'"""
            ).fetchall()
        )
        assert {c for c, n in nullable.items() if n == "YES"} >= {
            "primary_metric", "higher_is_better", "baseline_name", "artifact_uri",
        }  # fmt: skip
        assert nullable["status"] == "NO" and nullable["reason"] == "NO"
        assert nullable["guard_rails"] == "NO"  # added by the guard-rail migration, '{}' for old rows
        conn.commit()  # trained_at is the transaction's now(): the skip below is a later run
        registry.record_skip(
            conn, model_name="churn", version="v1", as_of=dt.date(2026, 1, 2),
            skip=InsufficientData("no snapshot", snapshots=0), params={}, seconds=0.0,
        )  # fmt: skip
        conn.commit()
        assert registry.last_run(conn, "churn").status == "skipped"
        assert registry.champion(conn, "churn").version == "v0"  # the skip leaves the champion in place
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update ml.model_runs set status = 'half-trained'")


def test_a_champion_trained_for_other_champion_keys_is_not_the_champion(warehouse):
    """A model trained for another horizon predicts another quantity: champion() with the run's
    CHAMPION_KEYS finds only promoted runs trained with the same values; guard rails are recorded."""
    with psycopg.connect(warehouse.role_url("transformer")) as conn:
        registry.ensure_table(conn)
        conn.execute("delete from ml.model_runs where model = 'unit_test_keys'")
        ev = _railed(mae=(31.0, 32.0), aggregate_error=(0.05, 0.10), spearman=(0.6, 0.55))
        decision = registry.decide(ev, None, 0.02)
        registry.record_run(
            conn, model_name="unit_test_keys", version="h365", as_of=dt.date(2026, 1, 1), evaluation=ev,
            params={"horizon_days": 365, "n_estimators": 300}, row_counts={}, artifact_uri="memory://x/h365.pkl",
            decision=decision, champion_version=None, champion_metric=None, train_seconds=1.0,
        )  # fmt: skip
        assert registry.champion(conn, "unit_test_keys", {"horizon_days": 365}).version == "h365"
        assert registry.champion(conn, "unit_test_keys", {"horizon_days": 273}) is None
        assert registry.champion(conn, "unit_test_keys").version == "h365"  # no keys: any champion
        rails = conn.execute(
            "select guard_rails from ml.model_runs where model = 'unit_test_keys'"
        ).fetchone()[0]
        assert [r["metric"] for r in rails["rails"]] == ["aggregate_error", "spearman", "mae"]
        assert all(r["passed"] for r in rails["rails"]) and rails["references"] == {"zero": {"mae": 33.0}}
        conn.execute("delete from ml.model_runs where model = 'unit_test_keys'")
