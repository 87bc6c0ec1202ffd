"""Insight detection scored against planted incidents (issue 15's acceptance), on BENCH_INSIGHTS_SIZE
(default small) for each seed of BENCH_INSIGHTS_SEEDS (default 42,7,11).

Each seed's shop gets a 21-day mobile `checkout_bug` and a 10-day `payment_outage` in its last ~150 days
(>= 35 days apart, the outage ending >= 14 days before the world's end; docs/sandbox.md, "Planted
incidents"). Only what the funnel needs is loaded (the events landing files, JOURNEY_CONFIGURED_SOURCES=
events) into a private embedded warehouse and `dbt build -s +fct_funnel_daily` runs without its tests
(the dbt tier runs them; here they would only add minutes to a measurement of detection). Then the
funnel topic runs for every night from 35 days before the first incident to the world's last day, with
the rule-based generator (no LLM), exactly as the nightly asset calls it (`ml.insights.run_topic`).

An incident is *surfaced* on a night when a published funnel insight of that night cites (evidence path
`anomalies[i]...`) an anomaly whose (dimension, segment, step) is the incident's truth. Figures per seed
and pooled, each recorded next to its target: nights from the incident's start to its first surfaced
night (<= 2), share of the incident's nights surfaced (>= 0.8), and share of clean nights (no incident
active, and not within 7 days after one ended) with any high-priority published funnel insight (<= 0.05).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.raw_contract import ensure_raw_tables
from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, connect, init_warehouse
from ingestion.warehouse.paths import PROJECT_ROOT, local_dir
from ingestion.warehouse.settings import dbt_env
from tests.bench.results import record

LEAD_NIGHTS = 35  # clean nights scored before the first incident
AFTER_DAYS = 7  # nights after an incident that are neither incident nor clean nights
TARGET_NIGHTS_TO_SURFACE, TARGET_SURFACED_SHARE, TARGET_CLEAN_HIGH_SHARE = 2, 0.8, 0.05
EVIDENCE_PATH = re.compile(r"^anomalies\[(\d+)\]\.")


@dataclass
class Planted:
    """One incident's ground truth (a row of incidents.json) and what the nights showed."""

    spec: str
    start: dt.date
    end: dt.date
    key: tuple[str, str, str]  # (dimension, segment, step)
    surfaced: list[dt.date] = field(default_factory=list)

    @property
    def nights(self) -> int:
        return (self.end - self.start).days + 1

    def nights_to_surface(self) -> int | None:
        first = [d for d in self.surfaced if d >= self.start]
        return (min(first) - self.start).days if first else None

    def surfaced_share(self) -> float:
        return sum(self.start <= d <= self.end for d in self.surfaced) / self.nights


def incident_specs(seed: int, end: dt.date) -> list[str]:
    """A 21-day mobile checkout bug ~150 days before `end` (exclusive) and a 10-day payment outage
    >= 35 days after it, ending >= 14 days before `end`; shifted by the seed so weekdays differ."""
    shift = seed % 15
    bug_start = end - dt.timedelta(days=150 - shift)
    bug_end = bug_start + dt.timedelta(days=20)
    outage_start = bug_end + dt.timedelta(days=36 + seed % 5)
    outage_end = outage_start + dt.timedelta(days=9)
    assert (end - outage_end).days > 14 and (outage_start - bug_end).days >= 35
    return [
        f"checkout_bug:{bug_start}:{bug_end}:mobile",
        f"payment_outage:{outage_start}:{outage_end}",
    ]


def _prepare(bench_dir: Path) -> tuple[WarehouseSettings, EmbeddedPostgres]:
    os.environ.update(
        WAREHOUSE_PORT=os.environ.get("BENCH_INSIGHTS_WAREHOUSE_PORT", "55435"),
        WAREHOUSE_DATA_DIR=str(bench_dir / "warehouse"),
        JOURNEY_CONFIGURED_SOURCES="events",
    )
    os.environ.pop("WAREHOUSE_URL", None)
    os.environ.pop("OPENAI_API_KEY", None)  # the rule-based generator: detection is what is measured
    settings = WarehouseSettings.from_env()
    server = EmbeddedPostgres(settings)
    server.up()
    init_warehouse(settings)
    ensure_raw_tables(settings)  # every source's raw tables exist (empty but for events), as in production
    return settings, server


def _load_world(world: Path, settings: WarehouseSettings, bench_dir: Path) -> None:
    """The world's landing files into an emptied `events` schema, then the funnel's marts."""
    from ingestion.events.load import load_landing_files

    with connect("admin", settings, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'events'")]
        if tables:
            conn.execute("truncate " + ", ".join(f"events.{t}" for t in tables))
        if _exists(conn, "insights.llm_insights"):  # a previous seed's nights
            conn.execute("truncate insights.llm_insights")
    result = load_landing_files(world / "landing" / "events", settings)
    if result.rows_rejected:
        raise SystemExit(f"the insights bench's world has {result.rows_rejected} rejected events")
    env = {
        **os.environ,
        **dbt_env(settings),
        "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
        "DBT_TARGET_PATH": str(bench_dir / "dbt_target"),
        "DBT_LOG_PATH": str(bench_dir / "dbt_logs"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "build", "--full-refresh", "-s", "+fct_funnel_daily",
         "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
        cwd=PROJECT_ROOT / "dbt_project", env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed in the insights bench:\n{proc.stdout[-4000:]}")


def _exists(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def surfaced_keys(anomalies: list[dict], rows: list[tuple[str, list]]) -> tuple[set, bool]:
    """(dimension, segment, step) of the anomalies cited by the published rows (priority, evidence),
    and whether any published row is high priority."""
    keys: set[tuple[str, str, str]] = set()
    for _, evidence in rows:
        for item in evidence or []:
            m = EVIDENCE_PATH.match(str(item.get("metric", "")))
            if m and int(m.group(1)) < len(anomalies):
                a = anomalies[int(m.group(1))]
                keys.add((a.get("dimension"), a.get("segment"), a.get("step")))
    return keys, any(priority == "high" for priority, _ in rows)


def _score_nights(settings: WarehouseSettings, planted: list[Planted], first: dt.date, last: dt.date) -> dict:
    from ml.insights import run_topic

    clean, clean_high, anomalies_seen, failed, first_error = 0, 0, 0, 0, None
    night = first
    while night <= last:
        try:
            result = run_topic("funnel", night, settings)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            # a topic that crashes on a night surfaces nothing that night: counted, reported, never hidden
            failed += 1
            first_error = first_error or f"{night}: {type(exc).__name__}: {exc}"
            if failed == 1:
                print(f"[bench insights] run_topic failed on {first_error}", flush=True)
            result = None
        anomalies = (result.context.get("anomalies") if result else None) or []
        anomalies_seen += len(anomalies)
        with connect("transformer", settings) as conn:
            rows = conn.execute(
                "select priority, evidence from insights.llm_insights "
                "where run_date = %s and topic = 'funnel' and status = 'published'",
                (night,),
            ).fetchall()
        keys, high = surfaced_keys(anomalies, rows) if result else (set(), False)
        for p in planted:
            if p.key in keys:
                p.surfaced.append(night)
        quiet = not any(p.start <= night <= p.end + dt.timedelta(days=AFTER_DAYS) for p in planted)
        if quiet and result is not None:  # a night the topic failed on says nothing about false alarms
            clean += 1
            clean_high += high
        night += dt.timedelta(days=1)
    return {"clean_nights": clean, "clean_high_nights": clean_high, "anomalies": anomalies_seen,
            "failed": failed, "first_error": first_error}  # fmt: skip


def _targets(prefix: str, nights: int | None, share: float) -> dict:
    return {
        f"{prefix}_nights_to_surface": nights,
        f"{prefix}_nights_to_surface_target": f"<= {TARGET_NIGHTS_TO_SURFACE}",
        f"{prefix}_surfaced_share": round(share, 3),
        f"{prefix}_surfaced_share_target": f">= {TARGET_SURFACED_SHARE}",
    }


def run(size: str | None = None) -> dict:
    from ingestion.sandbox.shop import generate_world
    from ingestion.sandbox.shop.config import SIZES, START_DATE

    size = size or os.environ.get("BENCH_INSIGHTS_SIZE", "small")
    seeds = [int(s) for s in os.environ.get("BENCH_INSIGHTS_SEEDS", "42,7,11").split(",") if s.strip()]
    bench_dir = local_dir() / "bench" / f"insights_{size}"
    shutil.rmtree(bench_dir, ignore_errors=True)
    t_all = time.perf_counter()
    settings, server = _prepare(bench_dir)
    figures: dict = {"insights_bench_size": size, "insights_bench_seeds": ",".join(map(str, seeds))}
    all_planted: list[Planted] = []
    clean = clean_high = failed = 0
    try:
        for seed in seeds:
            t0 = time.perf_counter()
            world = bench_dir / f"world_{seed}"
            end = dt.date.fromisoformat(str(START_DATE)) + dt.timedelta(days=SIZES[size].days)
            specs = incident_specs(seed, end)
            print(f"[bench insights] seed {seed}: generating the {size} shop with {specs} ...", flush=True)
            generate_world(size, seed, world, incidents=specs)
            truth = json.loads((world / "incidents.json").read_text())
            planted = [
                Planted(t["spec"], dt.date.fromisoformat(t["start"]), dt.date.fromisoformat(t["end"]),
                        (t["dimension"], t["segment"], t["step"]))
                for t in truth
            ]  # fmt: skip
            _load_world(world, settings, bench_dir)
            t_nights = time.perf_counter()
            first = min(p.start for p in planted) - dt.timedelta(days=LEAD_NIGHTS)
            last = end - dt.timedelta(days=1)
            counts = _score_nights(settings, planted, first, last)
            nights_s = time.perf_counter() - t_nights
            clean, clean_high = clean + counts["clean_nights"], clean_high + counts["clean_high_nights"]
            for p, t in zip(planted, truth, strict=True):
                prefix = f"insights_seed{seed}_{t['kind']}"
                figures.update(_targets(prefix, p.nights_to_surface(), p.surfaced_share()))
                figures[f"{prefix}_orders_lost"] = t["orders_lost"]
            share = counts["clean_high_nights"] / counts["clean_nights"] if counts["clean_nights"] else None
            figures[f"insights_seed{seed}_clean_high_priority_share"] = (
                round(share, 3) if share is not None else None
            )
            figures[f"insights_seed{seed}_clean_high_priority_share_target"] = f"<= {TARGET_CLEAN_HIGH_SHARE}"
            figures[f"insights_seed{seed}_anomalies_reported"] = counts["anomalies"]
            figures[f"insights_seed{seed}_nights_failed"] = counts["failed"]
            if counts["first_error"]:
                figures[f"insights_seed{seed}_first_error"] = counts["first_error"][:300]
            failed += counts["failed"]
            print(f"[bench insights] seed {seed}: {(last - first).days + 1} nights in {nights_s:.0f}s "
                  f"(seed total {time.perf_counter() - t0:.0f}s)", flush=True)  # fmt: skip
            all_planted += planted
    finally:
        server.down()
    to_surface = [p.nights_to_surface() for p in all_planted]
    worst = None if any(n is None for n in to_surface) else max(to_surface, default=None)
    pooled_share = sum(p.surfaced_share() * p.nights for p in all_planted) / sum(
        p.nights for p in all_planted
    )
    figures.update(_targets("insights", worst, pooled_share))
    figures["insights_incidents_surfaced"] = sum(n is not None for n in to_surface)
    figures["insights_incidents"] = len(all_planted)
    figures["insights_clean_high_priority_share"] = round(clean_high / clean, 3) if clean else None
    figures["insights_clean_high_priority_share_target"] = f"<= {TARGET_CLEAN_HIGH_SHARE}"
    figures["insights_clean_nights"] = clean
    figures["insights_nights_failed"] = failed
    figures["insights_bench_s"] = round(time.perf_counter() - t_all, 1)
    _print(figures, all_planted)
    record(figures)
    return figures


def _met(value, target: str) -> str:
    if value is None:
        return "MISSED"
    op, bound = target.split()
    ok = value <= float(bound) if op == "<=" else value >= float(bound)
    return "met" if ok else "MISSED"


def _print(f: dict, planted: list[Planted]) -> None:
    for p in planted:
        n = p.nights_to_surface()
        first = f"first surfaced {n} nights after its start" if n is not None else "never surfaced"
        print(f"[bench insights] {p.spec}: {first}, "
              f"{p.surfaced_share():.0%} of {p.nights} nights surfaced")  # fmt: skip
    for key in (
        "insights_nights_to_surface",
        "insights_surfaced_share",
        "insights_clean_high_priority_share",
    ):
        value, target = f[key], f[f"{key}_target"]
        print(f"[bench insights] {key}: {value} (target {target}: {_met(value, target)})")
    print(f"[bench insights] {f['insights_incidents_surfaced']} of {f['insights_incidents']} incidents surfaced; "
          f"{f['insights_clean_nights']} clean nights; wall time {f['insights_bench_s']}s")  # fmt: skip
    if f["insights_nights_failed"]:
        print(f"[bench insights] WARNING: the funnel topic FAILED on {f['insights_nights_failed']} nights "
              "(those nights count as surfacing nothing); see insights_seed*_first_error")  # fmt: skip


if __name__ == "__main__":
    run()
