"""Segments evaluated on the tiny shop's warehouse, their marts built by dbt, and their deltas synced
to the Meta and Shopify emulators over real HTTP.

The expected uploads are computed here from the raw customers with hashlib (not with the hashing
module), and the expected members with SQL written here: first sync adds everyone eligible, the
second adds nothing, a leaver is removed, customers without marketing consent are never sent, a dry
run sends nothing, and a sync that fails midway resumes without uploading anything twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import requests

from ingestion.activation.evaluate import SegmentEvaluationError, evaluate_segments
from ingestion.activation.meta_audiences import AudienceSyncError, MetaAudienceClient
from ingestion.activation.segments import SegmentDefinition, save_segment
from ingestion.activation.shopify_tags import ShopifyTagClient
from ingestion.activation.sync import (
    META,
    SHOPIFY,
    MetaDestination,
    PlanOnly,
    ShopifyDestination,
    sync_segment,
)
from ingestion.warehouse import WarehouseSettings
from tests.sources._meta_ga4_fixtures import control, emulator

SEGMENT_MODELS = "stg_activation__segment_evaluations stg_activation__segment_snapshots segment_members fct_segment_sizes_daily"
REPEATERS = "select customer_id from marts.dim_customers where orders >= 2"
LOYAL = "select customer_id from marts.dim_customers where orders >= 3"
FAST = {
    "META_MAX_ATTEMPTS": "3", "META_BACKOFF_SECONDS": "0.01", "META_MAX_WAIT_SECONDS": "0.05",
    "SHOPIFY_BACKOFF_SECONDS": "0.01", "SHOPIFY_MAX_WAIT_SECONDS": "0.5", "SHOPIFY_MAX_ATTEMPTS": "4",
}  # fmt: skip


def segment(sql: str, name: str = "test_repeaters") -> SegmentDefinition:
    return SegmentDefinition(name, "Test repeaters", "customers with repeat orders", sql, (META, SHOPIFY))


@pytest.fixture(scope="module")
def vendors(tiny_world: Path):
    with emulator("meta", tiny_world) as (meta_url, meta_env, meta_faults), emulator("shopify", tiny_world) as (
        shop_url, shop_env, _,
    ):  # fmt: skip
        yield SimpleNamespace(meta_url=meta_url, meta_env={**meta_env, **FAST}, shop_url=shop_url,
                              shop_env={**shop_env, **FAST}, meta_faults=meta_faults)  # fmt: skip


@pytest.fixture
def wh(built_tiny, dbt_warehouse: WarehouseSettings, run_dbt, vendors):
    """The tiny warehouse with no trace of earlier syncs, and vendors that hold nothing."""
    with psycopg.connect(dbt_warehouse.role_url("transformer"), autocommit=True) as conn:
        for table in ("segment_snapshots", "segment_evaluations", "sync_members", "sync_runs"):
            conn.execute(f"delete from activation.{table}")
    control(vendors.meta_url, reset_audiences=True, fail_user_batches_after=None)
    control(vendors.shop_url, reset_tags=True)
    return SimpleNamespace(settings=dbt_warehouse, run_dbt=run_dbt)


def evaluate(wh, definition: SegmentDefinition) -> None:
    evaluate_segments([definition], wh.settings)
    wh.run_dbt("build", "--select", SEGMENT_MODELS)


def destinations(vendors, conn: psycopg.Connection, batch_size: int = 25):
    meta = MetaDestination(MetaAudienceClient.from_env(vendors.meta_env, batch_size=batch_size), conn)
    return meta, ShopifyDestination(ShopifyTagClient.from_env(vendors.shop_env))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def expected(conn: psycopg.Connection, sql: str) -> dict[str, set]:
    """Consenting members, their Shopify gids and the hashes Meta should receive, from SQL written here."""
    rows = conn.execute(
        f"""
        select c.customer_id, c.marketing_allowed, raw.email, raw.phone
        from ({sql}) as m
        join marts.dim_customers as c using (customer_id)
        left join shopify.customers as raw on raw.id = 'gid://shopify/Customer/' || c.customer_id
        """
    ).fetchall()
    consenting = {r[0] for r in rows if r[1]}
    hashes = set()
    for _cid, allowed, email, phone in rows:
        if allowed and email:
            hashes.add(sha(email.strip().lower()))
        if allowed and phone:
            hashes.add(sha(re.sub(r"\D", "", phone)))
    return {
        "members": {r[0] for r in rows},
        "consenting": consenting,
        "refusing": {r[0] for r in rows if not r[1]},
        "gids": {f"gid://shopify/Customer/{c}" for c in consenting},
        "hashes": hashes,
    }


def audience(vendors) -> dict:
    body = requests.get(f"{vendors.meta_url}/_emulator/audiences", timeout=10).json()["audiences"]
    assert len(body) == 1, body
    return next(iter(body.values()))


def tagged(vendors, tag: str = "journey:test-repeaters") -> set[str]:
    body = requests.get(f"{vendors.shop_url}/_emulator/tags", timeout=10).json()
    return {gid for gid, tags in body["tags"].items() if tag in tags}


def test_members_are_what_the_sql_selects_with_history(wh):
    evaluate(wh, segment(REPEATERS))
    with psycopg.connect(wh.settings.role_url("reporter")) as conn:
        hand = {r[0] for r in conn.execute(REPEATERS)}
        current = {
            r[0] for r in conn.execute("select customer_id from marts.segment_members where is_current")
        }
        sizes = conn.execute("select members, entered, exited from marts.fct_segment_sizes_daily").fetchall()
    assert hand and current == hand
    assert sizes == [(len(hand), len(hand), 0)]


def test_a_segment_sql_that_writes_or_reads_raw_data_is_refused(wh):
    for sql in ("select id as customer_id from shopify.customers", "delete from marts.dim_customers"):
        with pytest.raises(SegmentEvaluationError, match="refused"):
            evaluate_segments([segment(sql, "test_bad")], wh.settings)


def test_dry_run_records_the_plan_and_sends_nothing(wh, vendors):
    evaluate(wh, segment(REPEATERS))
    with psycopg.connect(wh.settings.role_url("transformer"), autocommit=True) as conn:
        want = expected(conn, REPEATERS)
        outcome = sync_segment(conn, PlanOnly(SHOPIFY), segment(REPEATERS), dry_run=True)
        run = conn.execute("select status, planned_adds, adds from activation.sync_runs").fetchone()
    assert outcome.status == "dry_run" and run == ("dry_run", len(want["consenting"]), 0)
    assert tagged(vendors) == set()


def test_first_sync_adds_everyone_eligible_second_nothing_and_leavers_are_removed(wh, vendors):
    evaluate(wh, segment(REPEATERS))
    with psycopg.connect(wh.settings.role_url("transformer"), autocommit=True) as conn:
        want = expected(conn, REPEATERS)
        meta, shop = destinations(vendors, conn)
        first = [sync_segment(conn, d, segment(REPEATERS)) for d in (meta, shop)]
        assert [o.adds for o in first] == [len(want["consenting"])] * 2
        assert want["refusing"], "the tiny shop has repeat customers without marketing consent"
        assert first[0].plan.without_consent == len(want["refusing"])
        uploaded = audience(vendors)
        assert set(uploaded["upload_log"]) == want["hashes"]  # consent: nobody else's keys were sent
        assert set(uploaded["upload_log"].values()) == {1}
        assert tagged(vendors) == want["gids"]
        assert 0 < first[0].match_rate <= 1

        second = [sync_segment(conn, d, segment(REPEATERS)) for d in (meta, shop)]
        assert [(o.adds, o.removes) for o in second] == [(0, 0), (0, 0)]

        evaluate(wh, segment(LOYAL))  # the same day, a stricter rule: the two-order customers leave
        stay = expected(conn, LOYAL)
        third = [sync_segment(conn, d, segment(REPEATERS)) for d in (meta, shop)]
    leavers = want["consenting"] - stay["consenting"]
    assert leavers and [(o.adds, o.removes) for o in third] == [(0, len(leavers))] * 2
    assert tagged(vendors) == stay["gids"]
    after = audience(vendors)
    assert set(after["removal_log"]) == want["hashes"] - stay["hashes"]
    assert after["size"] < uploaded["size"]


def test_a_sync_that_fails_midway_resumes_without_uploading_twice(wh, vendors):
    evaluate(wh, segment(REPEATERS))
    control(vendors.meta_url, fail_user_batches_after=2)
    with psycopg.connect(wh.settings.role_url("transformer"), autocommit=True) as conn:
        want = expected(conn, REPEATERS)
        meta, _ = destinations(vendors, conn, batch_size=5)
        with pytest.raises(AudienceSyncError, match="batch 3"):
            sync_segment(conn, meta, segment(REPEATERS), run_id="killed")
        failed = conn.execute("select status, adds, error from activation.sync_runs").fetchone()
        assert failed[:2] == ("failed", 10) and "batch 3" in failed[2]
        control(vendors.meta_url, fail_user_batches_after=None)
        resumed = sync_segment(conn, meta, segment(REPEATERS), run_id="resumed")
        synced = conn.execute("select count(*) from activation.sync_members").fetchone()[0]
    assert resumed.adds == len(want["consenting"]) - 10
    assert synced == len(want["consenting"])
    log = audience(vendors)["upload_log"]
    assert set(log) == want["hashes"] and set(log.values()) == {1}


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(wh, vendors):
    evaluate(wh, segment(REPEATERS))
    with psycopg.connect(wh.settings.role_url("transformer"), autocommit=True) as conn:
        conn.execute(
            "insert into activation.sync_runs (run_id, destination, segment, status) "
            "values ('gone', %s, 'test_repeaters', 'running')",
            (SHOPIFY,),
        )
        _, shop = destinations(vendors, conn)
        sync_segment(conn, shop, segment(REPEATERS), run_id="next")
        statuses = dict(conn.execute("select run_id, status from activation.sync_runs").fetchall())
    assert statuses == {"gone": "interrupted", "next": "succeeded"}


def test_a_killed_sync_process_resumes_without_gaps_or_double_uploads(wh, vendors, tmp_path):
    """`journey segments sync` killed with SIGKILL while uploading (each batch answered slowly), then
    resumed: every eligible member ends up in the audience once, the acknowledged batches are not
    sent again, and only the one batch in flight at the kill may have been received twice."""
    evaluate(wh, segment(REPEATERS))
    save_segment(segment(REPEATERS), tmp_path)
    vendors.meta_faults.plan("slow", times=1000, delay=0.3, path_contains="/users")
    env = {
        **os.environ, **vendors.meta_env,
        "WAREHOUSE_URL": wh.settings.role_url("admin"),
        "WAREHOUSE_TRANSFORMER_URL": wh.settings.role_url("transformer"),
        "ACTIVATION_DESTINATIONS": META, "META_AUDIENCE_BATCH_SIZE": "5",
    }  # fmt: skip
    journey = Path(sys.executable).parent / "journey"
    args = [str(journey), "segments", "sync", "--destination", META, "--segments-dir", str(tmp_path)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with psycopg.connect(wh.settings.role_url("transformer"), autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while conn.execute("select count(*) from activation.sync_members").fetchone()[0] < 10:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "the sync acknowledged no two batches in 60 s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            time.sleep(0.5)  # the batch in flight may still reach the emulator
            vendors.meta_faults.clear()
            acknowledged = conn.execute("select count(*) from activation.sync_members").fetchone()[0]
            want = expected(conn, REPEATERS)
            assert acknowledged < len(want["consenting"]), "killed too late to test a resume"
            meta, _ = destinations(vendors, conn, batch_size=5)
            resumed = sync_segment(conn, meta, segment(REPEATERS), run_id="resumed")
            statuses = [
                r[0] for r in conn.execute("select status from activation.sync_runs order by started_at")
            ]
            synced = conn.execute("select count(*) from activation.sync_members").fetchone()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert statuses == ["interrupted", "succeeded"]
    assert resumed.adds == len(want["consenting"]) - acknowledged
    assert synced == len(want["consenting"])
    log = audience(vendors)["upload_log"]
    assert set(log) == want["hashes"]
    twice = [key for key, n in log.items() if n > 1]
    assert set(log.values()) <= {1, 2} and len(twice) <= 2 * 5, twice  # at most one batch: 5 people, 2 keys
