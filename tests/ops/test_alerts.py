"""The run-failure sensor names the failed assets and error, and posts a Slack-compatible payload."""

from __future__ import annotations

import dagster as dg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.server import BackgroundServer
from orchestration.defs.ops.alerts import AlertWebhook, run_failure_alert


@dg.asset
def upstream_ok() -> int:
    return 1


@dg.asset
def orders_raw(upstream_ok: int) -> int:
    raise RuntimeError("shopify: POST /admin/api/2025-01/graphql.json failed after 6 attempt(s): HTTP 503")


@dg.asset
def fct_orders(orders_raw: int) -> int:
    return orders_raw


@pytest.fixture()
def failed_run():
    instance = dg.DagsterInstance.ephemeral()
    job = dg.define_asset_job("nightly_job", selection="*").resolve(
        asset_graph=dg.Definitions(assets=[upstream_ok, orders_raw, fct_orders])
        .get_repository_def()
        .asset_graph
    )
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return instance, result


def _sensor_context(instance, result):
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    run = instance.get_run_by_id(result.run_id)
    return dg.build_run_status_sensor_context(
        sensor_name="ops_run_failure_alert_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()


def test_alert_posted_to_webhook_names_assets_and_error(failed_run):
    received: list[dict] = []

    async def hook(request: Request):
        received.append(await request.json())
        return JSONResponse({"ok": True})

    instance, result = failed_run
    with BackgroundServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        run_failure_alert(
            _sensor_context(instance, result), alert_webhook=AlertWebhook(url=f"{server.url}/hook")
        )
    assert len(received) == 1
    text = received[0]["text"]
    assert "nightly_job" in text and result.run_id in text
    assert "orders_raw" in text and "HTTP 503" in text
    assert "`fct_orders`" in text and "`upstream_ok`" not in text  # not materialized vs succeeded


def test_webhook_error_is_loud(failed_run):
    async def broken(request: Request):
        return JSONResponse({"error": "nope"}, status_code=500)

    instance, result = failed_run
    app = Starlette(routes=[Route("/hook", broken, methods=["POST"])])
    with (
        BackgroundServer(app) as server,
        pytest.raises(RuntimeError, match="alert webhook answered HTTP 500"),
    ):
        run_failure_alert(
            _sensor_context(instance, result), alert_webhook=AlertWebhook(url=f"{server.url}/hook")
        )


def test_without_webhook_the_alert_is_logged(failed_run, caplog):
    instance, result = failed_run
    run_failure_alert(_sensor_context(instance, result), alert_webhook=AlertWebhook())
    assert any(
        "ALERT_WEBHOOK_URL not set" in r.getMessage() and "orders_raw" in r.getMessage()
        for r in caplog.records
    )
