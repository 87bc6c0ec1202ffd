"""Loud, precise failure alerts for unattended runs.

A run-failure sensor names the failed steps and assets and the first error line of each, and posts a
Slack-compatible payload to ALERT_WEBHOOK_URL when it is set; otherwise it logs the same text.
"""

from __future__ import annotations

import logging
import os

import dagster as dg
import requests
from pydantic import Field

log = logging.getLogger(__name__)


class AlertWebhook(dg.ConfigurableResource):
    """Where failure alerts go: a Slack-compatible incoming webhook; unset = log only."""

    url: str | None = Field(default=None, description="Slack-compatible webhook URL (ALERT_WEBHOOK_URL)")
    timeout_s: float = 10.0

    def send(self, payload: dict) -> bool:
        """Post the payload; returns False when no webhook is configured. A failed post raises."""
        if not self.url:
            return False
        resp = requests.post(self.url, json=payload, timeout=self.timeout_s)
        if resp.status_code >= 300:
            raise RuntimeError(f"alert webhook answered HTTP {resp.status_code}: {resp.text[:200]}")
        return True


def failure_summary(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(assets that were planned but not materialized, [(step key, first error line)]) for a run."""
    planned: set[str] = set()
    done: set[str] = set()
    errors: list[tuple[str, str]] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED and event.asset_key:
            planned.add(event.asset_key.to_user_string())
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and event.asset_key:
            done.add(event.asset_key.to_user_string())
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:  # Dagster wraps the user's exception
                error = error.cause
            message = (error.message if error else event.message or "").strip().splitlines()
            errors.append((event.step_key or "?", message[0] if message else "unknown error"))
    return sorted(planned - done), errors


def build_alert_payload(
    job_name: str, run_id: str, failed_assets: list[str], errors: list[tuple[str, str]]
) -> dict:
    """Slack-compatible payload (`text` plus blocks) naming the failed assets and errors."""
    lines = [f":rotating_light: *{job_name}* failed (run `{run_id}`)"]
    if errors:
        lines.append("*Failed steps:*")
        lines += [f"• `{step}`: {message[:300]}" for step, message in errors[:10]]
    if failed_assets:
        shown = ", ".join(f"`{a}`" for a in failed_assets[:25])
        more = f" and {len(failed_assets) - 25} more" if len(failed_assets) > 25 else ""
        lines.append(f"*Not materialized ({len(failed_assets)}):* {shown}{more}")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


@dg.run_failure_sensor(name="ops_run_failure_alert_sensor", default_status=dg.DefaultSensorStatus.RUNNING)
def run_failure_alert(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
    run = context.dagster_run
    failed_assets, errors = failure_summary(context.instance, run.run_id)
    if not errors and context.failure_event.message:
        errors = [("run", context.failure_event.message.splitlines()[0])]
    payload = build_alert_payload(run.job_name, run.run_id, failed_assets, errors)
    if alert_webhook.send(payload):
        context.log.info(f"alert posted for run {run.run_id}")
    else:
        message = "ALERT_WEBHOOK_URL not set; alert follows:\n" + payload["text"]
        context.log.error(message)
        log.error(message)


def alert_webhook_resource() -> AlertWebhook:
    return (
        AlertWebhook(url=dg.EnvVar("ALERT_WEBHOOK_URL"))
        if os.environ.get("ALERT_WEBHOOK_URL")
        else AlertWebhook()
    )


defs = dg.Definitions(sensors=[run_failure_alert], resources={"alert_webhook": alert_webhook_resource()})
