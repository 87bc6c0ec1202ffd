"""Models scored against the simulated shop's ground truth (issue 6), on BENCH_ML_SIZE (default large).

A private embedded warehouse (own port and data dir under .local/bench/) gets the shop through the
project's loaders and `dbt build`; then each model is trained exactly as its Dagster asset trains it
and scored against truth/ (which the pipeline never reads). Prints every figure against its target and
merges them into .local/bench/results.json under `ml_*`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from ingestion.raw_contract import ensure_raw_tables
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse
from ingestion.warehouse.paths import PROJECT_ROOT, local_dir
from ingestion.warehouse.settings import dbt_env
from tests.bench.results import record


def _prepare(size: str) -> tuple[WarehouseSettings, Path, EmbeddedPostgres]:
    from ingestion.sandbox.shop import generate_world
    from tests.dbt.raw_loaders import load_raw

    bench_dir = local_dir() / "bench" / f"ml_{size}"
    shutil.rmtree(bench_dir, ignore_errors=True)
    world = bench_dir / "world"
    os.environ.update(
        WAREHOUSE_PORT=os.environ.get("BENCH_ML_WAREHOUSE_PORT", "55434"),
        WAREHOUSE_DATA_DIR=str(bench_dir / "warehouse"),
    )
    os.environ.pop("WAREHOUSE_URL", None)
    settings = WarehouseSettings.from_env()
    server = EmbeddedPostgres(settings)
    server.up()
    init_warehouse(settings)
    ensure_raw_tables(settings)  # every source's raw tables, empty where the shop has none (order history)
    t0 = time.perf_counter()
    print(f"[bench ml] generating the {size} shop ...", flush=True)
    generate_world(size, 42, world)
    print(f"[bench ml] loading raw ({time.perf_counter() - t0:.0f}s) ...", flush=True)
    load_raw(world, settings)
    print(f"[bench ml] dbt build ({time.perf_counter() - t0:.0f}s) ...", flush=True)
    env = {
        **os.environ,
        **dbt_env(settings),
        "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
        "DBT_TARGET_PATH": str(bench_dir / "dbt_target"),
        "DBT_LOG_PATH": str(bench_dir / "dbt_logs"),
        "JOURNEY_CONFIGURED_SOURCES": "shopify,meta_ads,ga4,events",  # what load_raw lands
    }
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "build", "--full-refresh", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
        cwd=PROJECT_ROOT / "dbt_project", env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed in the ML bench:\n{proc.stdout[-4000:]}")
    print(f"[bench ml] warehouse ready ({time.perf_counter() - t0:.0f}s)", flush=True)
    return settings, world, server


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _line(name: str, value: float, versus: str, other: float, target: str, met: bool) -> str:
    return f"[bench ml] {name}: {value:.4f} vs {versus} {other:.4f}  (target {target}: {'met' if met else 'MISSED'})"


def run(size: str | None = None) -> dict:
    import ml.churn as churn
    import ml.forecast as forecast
    import ml.ltv as ltv
    from ml.churn.truth import score_against_truth as churn_truth
    from ml.ltv.truth import score_against_truth as ltv_truth
    from ml.recommendations.truth import score_against_truth as recs_truth

    size = size or os.environ.get("BENCH_ML_SIZE", "large")
    settings, world, server = _prepare(size)
    as_of = json.loads((world / "world.json").read_text())["end_date"]
    figures: dict = {"ml_bench_size": size}
    try:
        with psycopg.connect(settings.role_url("transformer")) as conn:
            # churn
            ts = churn.build_training_set(conn, as_of, churn.Params())
            model, secs = _timed(churn.train, ts, churn.Params())
            c = churn_truth(conn, world, model)
            churn_ev = churn.evaluate(model, ts, churn.Params())
            figures.update(_promotion("churn", churn_ev))
            figures.update(
                {
                    f"ml_churn_validation_{k}": churn_ev.metrics.get(k)
                    for k in ("ece", "ece_uncalibrated", "brier")
                },
                ml_churn_validation_baseline_ece=churn_ev.baseline_metrics.get("ece"),
            )
            figures.update(ml_churn_train_s=round(secs, 2))
            figures.update({f"ml_churn_{k}": v for k, v in c.items() if isinstance(v, int | float | bool)})
            # LTV
            ts = ltv.build_training_set(conn, as_of, ltv.Params())
            model, secs = _timed(ltv.train, ts, ltv.Params())
            lt = ltv_truth(conn, world, model)
            figures.update(_promotion("ltv", ltv.evaluate(model, ts, ltv.Params())))
            figures.update(ml_ltv_train_s=round(secs, 2))
            figures.update({f"ml_ltv_{k}": v for k, v in lt.items() if isinstance(v, int | float | bool)})
            # recommendations
            r = recs_truth(conn, world, as_of)
            figures.update({f"ml_recs_{k}": v for k, v in r.items() if isinstance(v, int | float | bool)})
            # demand forecast: rolling-origin backtest vs seasonal-naive
            ts = forecast.build_training_set(conn, as_of, forecast.Params())
            model, secs = _timed(forecast.train, ts, forecast.Params())
            ev, eval_secs = _timed(forecast.evaluate, model, ts, forecast.Params())
            figures.update(
                ml_forecast_smape=ev.metrics["smape"],
                ml_forecast_seasonal_naive_smape=ev.baseline_metrics["smape"],
                ml_forecast_mase=ev.metrics.get("mase"),
                ml_forecast_smape_categories=ev.metrics.get("smape_categories"),
                ml_forecast_seasonal_naive_smape_categories=ev.baseline_metrics.get("smape_categories"),
                ml_forecast_interval_coverage=ev.metrics.get("interval_coverage_total"),
                ml_forecast_interval_width=forecast.Params().interval_width,
                **_promotion("forecast", ev),
                ml_forecast_train_s=round(secs, 2),
                # train runs the rolling-origin backtest (it picks each series' forecaster and calibrates
                # the intervals); evaluate reuses it, so this is the reuse's cost
                ml_forecast_evaluate_s=round(eval_secs, 2),
                ml_forecast_interval_coverage_uncalibrated=ev.metrics.get(
                    "interval_coverage_total_uncalibrated"
                ),
                ml_forecast_interval_coverage_categories=ev.metrics.get("interval_coverage_categories"),
            )
    finally:
        server.down()
    _print(figures)
    record(figures)
    return figures


def _promotion(model: str, evaluation) -> dict:
    """Would the registry promote this candidate as a first model (primary metric and guard rails)?"""
    from ml import registry

    decision = registry.decide(evaluation, None, 0.02)
    failed = [r.rail.metric for r in decision.rails if not r.passed]
    return {
        f"ml_{model}_promoted": decision.promoted,
        f"ml_{model}_guard_rails_failed": len(failed),
        f"ml_{model}_decision": decision.reason,
    }


def _print(f: dict) -> None:
    g = f.get
    print(f"[bench ml] size {f['ml_bench_size']}")
    if g("ml_churn_roc_auc") is not None:
        auc, base = f["ml_churn_roc_auc"], f["ml_churn_baseline_roc_auc"]
        print(_line("churn ROC AUC (truth)", auc, "recency baseline", base, ">= 0.80 and >= baseline + 0.03",
                    auc >= 0.80 and auc >= base + 0.03))  # fmt: skip
    if g("ml_ltv_aggregate_error") is not None:
        agg, bg_agg = f["ml_ltv_aggregate_error"], f["ml_ltv_baseline_aggregate_error"]
        mae, bg_mae = f["ml_ltv_mae"], f["ml_ltv_baseline_mae"]
        print(_line("LTV aggregate error (truth)", agg, "BG/NBD", bg_agg, "<= 0.10", agg <= 0.10))
        print(_line("LTV MAE (truth)", mae, "BG/NBD", bg_mae, "< BG/NBD", mae < bg_mae))
        sp, bg_sp = f["ml_ltv_spearman"], f["ml_ltv_baseline_spearman"]
        print(_line("LTV Spearman (truth)", sp, "BG/NBD", bg_sp, "> BG/NBD", sp > bg_sp))
    p, pop = f["ml_recs_model_precision_at_10"], f["ml_recs_popularity_precision_at_10"]
    print(_line("precision@10 (holdout)", p, "popularity", pop, ">= 2x popularity", p >= 2 * pop))
    s, sn = f["ml_forecast_smape"], f["ml_forecast_seasonal_naive_smape"]
    print(
        _line("forecast sMAPE (backtest)", s, "seasonal-naive", sn, "<= 0.8x seasonal-naive", s <= 0.8 * sn)
    )
    if (
        g("ml_forecast_smape_categories") is not None
        and g("ml_forecast_seasonal_naive_smape_categories") is not None
    ):
        sc, snc = f["ml_forecast_smape_categories"], f["ml_forecast_seasonal_naive_smape_categories"]
        print(
            _line(
                "forecast per-category sMAPE (backtest)",
                sc,
                "seasonal-naive",
                snc,
                "guard rail",
                sc <= snc + 0.05,
            )
        )
    if g("ml_forecast_interval_coverage") is not None:
        cov, width = f["ml_forecast_interval_coverage"], f["ml_forecast_interval_width"]
        print(_line("forecast interval coverage (backtest)", cov, "nominal", width, "within +-0.05",
                    abs(cov - width) <= 0.05))  # fmt: skip
    if g("ml_churn_validation_ece") is not None:
        e, eb = f["ml_churn_validation_ece"], f["ml_churn_validation_baseline_ece"]
        print(
            f"[bench ml] churn ECE (validation): {e:.4f} (uncalibrated {f['ml_churn_validation_ece_uncalibrated']:.4f}) vs recency baseline {eb:.4f}"
        )
    for model in ("churn", "ltv", "forecast"):
        if g(f"ml_{model}_promoted") is not None:
            print(f"[bench ml] {model} promotion as a first model: {f[f'ml_{model}_decision']}")
