"""ML assets, built from each model package's plain functions (ml/<model>: build_training_set, train,
evaluate, predict).

Per model: `ml/<model>_model` trains a candidate, evaluates it and the current champion on the same
split, records the run in ml.model_runs and promotes it or not (`ml.registry.decide`). Its blocking
`promotion` check fails with ERROR only when a candidate was trained, lost, and no promoted model
exists at all (nothing could score); a candidate that is not promoted while a champion exists is a
WARN: the champion keeps scoring and the check says why. The scoring assets (`ml/<table>`) always score with the champion.

Every source is optional, so a model's marts may be empty or too small. A package then raises
`ml.core.InsufficientData` (from `build_training_set` or `evaluate`) and the run is *skipped*: a
`status='skipped'` row in ml.model_runs with the reason, asset metadata `skipped`/`reason` and the
counts behind it, and a `promotion` check that fails at WARN (never blocking). Without a champion the
scoring asset then writes its tables empty, with their columns, so insights and dashboards still run;
with one, the champion keeps scoring whatever the inputs now hold. Any other exception fails the step.
"""

# no `from __future__ import annotations`: Dagster reads the generated Config classes from the
# asset functions' annotations at definition time.

import importlib
import math
import time
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from ml import registry
from ml.core import Evaluation, InsufficientData, RailResult, replace_table
from orchestration.defs.ml.config import config_class, params_from
from orchestration.defs.ml.resources import ModelStoreResource
from orchestration.defs.ops.freshness import ReferenceClock
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.transform import dbt_model_key


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry name; the model asset is ml/<name>_model
    module: str  # the plain-Python package
    reads: tuple[str, ...]  # dbt models it trains and scores from
    outputs: tuple[str, ...]  # ml.* tables its scoring asset writes
    description: str


def metrics_markdown(ev: Evaluation, rails: tuple[RailResult, ...] = ()) -> str:
    """The comparison a promotion was decided on: every metric of the model, its baseline and the
    naive references side by side, then each guard rail's outcome, then the model's own view
    (calibration curve, decile capture, backtest plot)."""
    refs = list(ev.references)
    head = ["metric", "model", f"baseline ({ev.baseline_name})", *(f"naive: {r}" for r in refs)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, value in ev.metrics.items():
        mark = " (primary)" if name == ev.primary_metric else ""
        others = [ev.baseline_metrics.get(name), *(ev.references[r].get(name) for r in refs)]
        cells = [_fmt(value), *(_fmt(v) for v in others)]
        rows.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    if rails:
        rows += ["", "| guard rail | against | model | must be | held |", "|---|---|---|---|---|"]
        for r in rails:
            d = r.as_dict()
            op = ">=" if r.rail.higher_is_better else "<="
            bound = "n/a" if r.bound is None else f"{op} {r.bound:.4f}"
            rows.append(
                f"| {d['metric']} | {d['against']} | {_fmt(r.value)} | {bound} | {'yes' if r.passed else '**no**'} |"
            )
    return "\n".join(rows) + (f"\n\n{ev.extra_markdown}" if ev.extra_markdown else "")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def metric_metadata(ev: Evaluation) -> dict[str, float]:
    """Every metric of an evaluation as a float (`metric/<name>`, `baseline/<name>`, the naive
    references as `naive_<ref>/<name>`): numeric metadata is what the asset's Plots tab draws run over
    run; the markdown table beside it is for reading. NaN (undefined) metrics are left out."""
    out = {
        **{f"metric/{k}": float(v) for k, v in ev.metrics.items()},
        **{f"baseline/{k}": float(v) for k, v in ev.baseline_metrics.items()},
        **{f"naive_{r}/{k}": float(v) for r, m in ev.references.items() for k, v in m.items()},
    }
    return {k: v for k, v in out.items() if not math.isnan(v)}


def skip_metadata(skip: InsufficientData) -> dict:
    """`skipped`, `reason` and the counts it was judged on (as numbers, `input/<name>`)."""
    return {"skipped": True, "reason": skip.reason, **{f"input/{k}": v for k, v in skip.facts.items()}}


def champion_keys(pkg, params) -> dict:
    """The params a champion must share with this run (the package's CHAMPION_KEYS): a model trained
    for another horizon predicts another quantity and must never score for this one."""
    return {k: getattr(params, k) for k in getattr(pkg, "CHAMPION_KEYS", ())}


def output_column_types(pkg) -> dict[str, dict[str, str]]:
    """{"ml.<table>": {column: type}} of every table a package's scoring writes."""
    if hasattr(pkg, "TABLE_COLUMN_TYPES"):
        return pkg.TABLE_COLUMN_TYPES
    return {pkg.OUTPUT_TABLE: pkg.COLUMN_TYPES}


def _champion_metric(pkg, champ, store, training_set, params, context) -> tuple[float | None, str]:
    """The champion's primary metric on today's split; its recorded metric if it cannot be re-scored."""
    if champ is None:
        return None, "no champion yet"
    try:
        model = store.load(champ.artifact_uri)
        ev = pkg.evaluate(model, training_set, params)
        return ev.metrics[ev.primary_metric], f"champion {champ.version} re-evaluated on this split"
    except (OSError, ValueError, KeyError, InsufficientData) as exc:
        context.log.warning(f"champion {champ.version} not re-evaluated ({exc!r}); using its recorded metric")
        return champ.metric, f"champion {champ.version}'s recorded metric (re-evaluation failed: {exc})"


def model_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    pkg = importlib.import_module(spec.module)
    Config = config_class(spec.name, pkg.Params)
    key = dg.AssetKey(["ml", f"{spec.name}_model"])

    @dg.asset(
        key=key,
        group_name="ml",
        deps=[dbt_model_key(m) for m in spec.reads],
        kinds={"python", "postgres"},
        pool=WAREHOUSE_POOL,
        description=f"{spec.description}: train, evaluate vs baseline and champion, register, promote",
        check_specs=[
            dg.AssetCheckSpec(
                "promotion",
                asset=key,
                blocking=True,
                description="Candidate beats its baseline and is within tolerance of the champion",
            )
        ],
    )
    def _model(
        context: dg.AssetExecutionContext,
        config: Config,
        warehouse: Warehouse,
        model_store: ModelStoreResource,
        reference_clock: ReferenceClock,
    ) -> dg.MaterializeResult:
        as_of = reference_clock.now().date()
        params = params_from(config, pkg.Params)
        store = model_store.store()
        with warehouse.connect("transformer") as conn:
            started = time.monotonic()
            try:
                training_set = pkg.build_training_set(conn, as_of, params)
                model = pkg.train(training_set, params)
                evaluation = pkg.evaluate(model, training_set, params)
            except InsufficientData as skip:
                return _skipped_model(
                    context,
                    spec,
                    conn,
                    skip,
                    as_of,
                    config,
                    time.monotonic() - started,
                    champion_keys(pkg, params),
                )
            train_seconds = time.monotonic() - started
            champ = registry.champion(conn, spec.name, champion_keys(pkg, params))
            champ_metric, champ_note = _champion_metric(pkg, champ, store, training_set, params, context)
            decision = registry.decide(evaluation, champ_metric, config.promotion_tolerance)
            version = registry.new_version(spec.name)
            uri = store.save(spec.name, version, model)
            row_counts = dict(evaluation.split.get("rows", {})) if isinstance(evaluation.split, dict) else {}
            record = dict(
                as_of=as_of, params=config.model_dump(), row_counts=row_counts,
                champion_version=champ.version if champ else None, champion_metric=champ_metric,
                train_seconds=train_seconds,
            )  # fmt: skip
            registry.record_run(
                conn, model_name=spec.name, version=version, evaluation=evaluation, artifact_uri=uri,
                decision=decision, **record,
            )  # fmt: skip
            scoring = version if decision.promoted else (champ.version if champ else None)
            if scoring is None and hasattr(pkg, "as_baseline"):
                # nothing has ever been promoted and the baseline won: the baseline is the better
                # model on this split, so it is promoted (as its own version) and scores until a
                # candidate beats it
                fallback = pkg.as_baseline(model)
                scoring = f"{version}-baseline"
                registry.record_run(
                    conn, model_name=spec.name, version=scoring, evaluation=pkg.evaluate(fallback, training_set, params),
                    artifact_uri=store.save(spec.name, scoring, fallback),
                    decision=registry.Decision(
                        True, f"no champion yet and the candidate lost to its baseline: {evaluation.baseline_name} "
                        "scores until a candidate beats it",
                    ),
                    **record,
                )  # fmt: skip
        context.log.info(
            f"{spec.name} {version}: promoted={decision.promoted}: {decision.reason}; scoring with {scoring}"
        )
        has_model = scoring is not None
        return dg.MaterializeResult(
            metadata={
                "skipped": False,
                "version": version,
                "promoted": decision.promoted,
                "decision": decision.reason,
                "scoring_version": scoring or "none",
                "champion_comparison": champ_note,
                "train_seconds": round(train_seconds, 2),
                **metric_metadata(evaluation),
                **(
                    {f"champion/{evaluation.primary_metric}": float(champ_metric)}
                    if champ_metric is not None
                    else {}
                ),
                "guard_rails_held": sum(r.passed for r in decision.rails),
                "guard_rails_failed": sum(not r.passed for r in decision.rails),
                "metrics": dg.MetadataValue.md(metrics_markdown(evaluation, decision.rails)),
                "split": dg.MetadataValue.json(registry.jsonable(evaluation.split)),
                "artifact": uri,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="promotion",
                    passed=decision.promoted,
                    severity=dg.AssetCheckSeverity.WARN if has_model else dg.AssetCheckSeverity.ERROR,
                    description=decision.reason
                    + (
                        ""
                        if decision.promoted
                        else f"; scoring with {scoring or 'no model: nothing to score with'}"
                    ),
                    metadata={
                        "candidate": version,
                        "scoring_version": scoring or "none",
                        "comparison": dg.MetadataValue.md(metrics_markdown(evaluation, decision.rails)),
                    },
                )
            ],
        )

    return _model


def _skipped_model(
    context, spec: ModelSpec, conn, skip: InsufficientData, as_of, config, seconds: float, same: dict
):
    """Record the skipped run; the check fails at WARN (never blocks) and says what scores instead."""
    version = registry.new_version(spec.name)
    registry.record_skip(
        conn, model_name=spec.name, version=version, as_of=as_of, skip=skip, params=config.model_dump(),
        seconds=seconds,
    )  # fmt: skip
    champ = registry.champion(conn, spec.name, same)
    scoring = champ.version if champ else None
    then = (
        f"the champion {scoring} keeps scoring"
        if scoring
        else "no model: the scoring step writes its tables empty"
    )
    context.log.warning(f"{spec.name}: training skipped: {skip.reason}; {then}")
    return dg.MaterializeResult(
        metadata={
            **skip_metadata(skip),
            "version": version,
            "promoted": False,
            "scoring_version": scoring or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="promotion",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"skipped: {skip.reason}; {then}",
                metadata={"skipped": True, "candidate": version, "scoring_version": scoring or "none"},
            )
        ],
    )


def scoring_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    pkg = importlib.import_module(spec.module)
    Config = config_class(spec.name, pkg.Params)
    model_key = dg.AssetKey(["ml", f"{spec.name}_model"])

    @dg.multi_asset(
        name=f"{spec.name}_scores",
        specs=[
            dg.AssetSpec(
                ["ml", table],
                group_name="ml",
                deps=[model_key, *(dbt_model_key(m) for m in spec.reads)],
                kinds={"python", "postgres"},
                description=f"ml.{table}, written by the promoted {spec.name} model",
            )
            for table in spec.outputs
        ],
        pool=WAREHOUSE_POOL,
    )
    def _score(
        context: dg.AssetExecutionContext,
        config: Config,
        warehouse: Warehouse,
        model_store: ModelStoreResource,
        reference_clock: ReferenceClock,
    ):
        as_of = reference_clock.now().date()
        params = params_from(config, pkg.Params)
        types_of = output_column_types(pkg)
        with warehouse.connect("transformer") as conn:
            same = champion_keys(pkg, params)
            champ = registry.champion(conn, spec.name, same)
            if champ is None and same and (other := registry.champion(conn, spec.name)) is not None:
                wanted = ", ".join(f"{k}={v}" for k, v in same.items())
                raise dg.Failure(
                    f"no promoted {spec.name} model for {wanted}: the champion {other.version} was trained "
                    f"with other values, so it predicts something else; materialize ml/{spec.name}_model "
                    "with this config first"
                )
            if champ is None:
                last = registry.last_run(conn, spec.name)
                if last is None or last.status != "skipped":
                    raise dg.Failure(
                        f"no promoted {spec.name} model: see ml.model_runs for why candidates were rejected"
                    )
                # nothing to score with because the inputs could not train a model: empty tables
                # with their columns, so what reads them (insights, dashboards) still runs
                reason = f"no {spec.name} model: its last training run was skipped: {last.reason}"
                context.log.warning(reason)
                for table in spec.outputs:
                    types = types_of[f"ml.{table}"]
                    rows = replace_table(conn, f"ml.{table}", pd.DataFrame(columns=list(types)), types)
                    yield dg.MaterializeResult(
                        asset_key=["ml", table],
                        metadata={
                            "dagster/row_count": rows,
                            "skipped": True,
                            "reason": reason,
                            "model_version": "none",
                            "as_of": as_of.isoformat(),
                        },
                    )
                return
            model = model_store.store().load(champ.artifact_uri)
            if hasattr(pkg, "predict_tables"):  # a model with several output tables
                frames = pkg.predict_tables(model, conn, as_of, params, model_version=champ.version)
            else:
                frames = {
                    pkg.OUTPUT_TABLE: pkg.predict(model, conn, as_of, params, model_version=champ.version)
                }
            for table in spec.outputs:
                frame, types = frames[f"ml.{table}"], types_of[f"ml.{table}"]
                rows = replace_table(conn, f"ml.{table}", frame, types)
                yield dg.MaterializeResult(
                    asset_key=["ml", table],
                    metadata={
                        "dagster/row_count": rows,
                        "skipped": False,
                        "model_version": champ.version,
                        "as_of": as_of.isoformat(),
                        "preview": dg.MetadataValue.md(frame.head(10).to_markdown(index=False)),
                    },
                )

    return _score


def descriptive_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    """A model that describes the past (data-driven attribution): fitted and published every run, its
    comparison with the baseline recorded in ml.model_runs and shown as metadata, never gated."""
    pkg = importlib.import_module(spec.module)
    Config = config_class(spec.name, pkg.Params, base=dg.Config)  # never promoted: no tolerance
    (table,) = spec.outputs

    @dg.asset(
        key=["ml", table],
        group_name="ml",
        deps=[dbt_model_key(m) for m in spec.reads],
        kinds={"python", "postgres"},
        pool=WAREHOUSE_POOL,
        description=spec.description,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: Config,
        warehouse: Warehouse,
        model_store: ModelStoreResource,
        reference_clock: ReferenceClock,
    ) -> dg.MaterializeResult:
        as_of = reference_clock.now().date()
        params = params_from(config, pkg.Params)
        with warehouse.connect("transformer") as conn:
            started = time.monotonic()
            version = registry.new_version(spec.name)
            try:
                training_set = pkg.build_training_set(conn, as_of, params)
                model = pkg.train(training_set, params)
                evaluation = pkg.evaluate(model, training_set, params)
            except InsufficientData as skip:
                # nothing to describe: the table is published empty (with its columns), every run
                rows = replace_table(
                    conn, pkg.OUTPUT_TABLE, pd.DataFrame(columns=list(pkg.COLUMN_TYPES)), pkg.COLUMN_TYPES
                )
                registry.record_skip(
                    conn, model_name=spec.name, version=version, as_of=as_of, skip=skip,
                    params=config.model_dump(), seconds=time.monotonic() - started,
                )  # fmt: skip
                context.log.warning(f"{spec.name}: skipped: {skip.reason}; {pkg.OUTPUT_TABLE} written empty")
                return dg.MaterializeResult(
                    metadata={"dagster/row_count": rows, "version": version, **skip_metadata(skip)}
                )
            frame = pkg.predict(model, conn, as_of, params, model_version=version)
            rows = replace_table(conn, pkg.OUTPUT_TABLE, frame, pkg.COLUMN_TYPES)
            uri = model_store.store().save(spec.name, version, model)
            seconds = time.monotonic() - started  # fit, evaluate, predict and publish
            registry.record_run(
                conn, model_name=spec.name, version=version, as_of=as_of, evaluation=evaluation,
                params=config.model_dump(), row_counts={"output_rows": rows}, artifact_uri=uri,
                decision=registry.Decision(True, "descriptive model: published every run"),
                champion_version=None, champion_metric=None, train_seconds=seconds,
            )  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "version": version,
                "skipped": False,
                "run_seconds": round(seconds, 2),
                **metric_metadata(evaluation),
                "metrics": dg.MetadataValue.md(metrics_markdown(evaluation)),
                "preview": dg.MetadataValue.md(frame.head(20).to_markdown(index=False)),
            }
        )

    return _asset
