"""Tier 6: every runReport body the GA4 connector sends parses strictly (unknown fields are errors) as
`google.analytics.data_v1beta.RunReportRequest` of Google's own client library, `google-analytics-data`
(test-only dependency), and every response the emulator serves parses strictly as `RunReportResponse`,
including the metadata flags (thresholding, sampling, "(other)") and `propertyQuota`.

The bodies are not written down here: the connector's real source pages a report against the emulator
(incremental and backfill), `journey sources check ga4` sends its requests, and the emulator's request
log is what gets parsed, so the test follows the code. The emulator's own idea of the request fields
(what it rejects with 400) is compared with the library's messages, and a planted unknown field must
fail, or the check proves nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dlt
import pytest
import requests
from google.analytics import data_v1beta
from google.analytics.data_v1beta import RunReportRequest, RunReportResponse
from google.protobuf.json_format import ParseError

from ingestion.ga4 import GA4Settings, ga4_source
from ingestion.ga4.check import check
from ingestion.sandbox.emulators import running_emulator
from ingestion.sandbox.emulators.ga4 import ACCESS_TOKEN, MESSAGES

# the emulator's message names -> the library's classes
LIBRARY_MESSAGES = {
    "RunReportRequest": data_v1beta.RunReportRequest,
    "Dimension": data_v1beta.Dimension,
    "Metric": data_v1beta.Metric,
    "DateRange": data_v1beta.DateRange,
    "OrderBy": data_v1beta.OrderBy,
    "MetricOrderBy": data_v1beta.OrderBy.MetricOrderBy,
    "DimensionOrderBy": data_v1beta.OrderBy.DimensionOrderBy,
}


@pytest.fixture(scope="module")
def ga4(tiny_world: Path):
    with running_emulator("ga4", tiny_world) as (server, env, faults):
        yield SimpleNamespace(url=server.url, env=env, faults=faults)


@pytest.fixture(scope="module")
def sent(ga4, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of every runReport the connector and its check sent: an incremental load in pages,
    a backfill, and `journey sources check ga4`. A resource iterated outside a pipeline keeps its
    incremental state in dlt's active pipeline: a fresh one, so a GA4 load run earlier in the session
    (the tiny warehouse's loaders) does not make this a one-page incremental run."""
    dlt.pipeline(pipeline_name="ga4_contract", pipelines_dir=str(tmp_path_factory.mktemp("dlt")))
    ga4.faults.clear()
    settings = GA4Settings.from_env(ga4.env, page_size=2000)
    assert sum(1 for _ in ga4_source(**settings.source_kwargs()).resources["daily_traffic"]) > 2000
    backfill = ga4_source(**{**settings.source_kwargs(), "since": "2025-01-01", "until": "2025-01-31"})
    assert list(backfill.resources["report_metadata"])
    assert check(ga4.env).verdict == "OK"
    bodies = [(r.path, json.loads(r.body)) for r in ga4.faults.requests if r.path.endswith(":runReport")]
    assert len(bodies) >= 6
    return bodies


def strict_request(path: str, body: dict[str, Any]) -> RunReportRequest:
    """The body plus the property of its URL (REST puts it in the path) as Google's message."""
    prop = path.rsplit("/", 1)[-1].split(":")[0]
    return RunReportRequest.from_json(
        json.dumps({**body, "property": f"properties/{prop}"}), ignore_unknown_fields=False
    )


def test_every_body_the_connector_sends_parses_as_run_report_request(sent):
    for path, body in sent:
        request = strict_request(path, body)
        assert request.property.startswith("properties/")
        assert len(request.date_ranges) == 1 and request.metrics
    loads = [
        strict_request(p, b) for p, b in sent if len(b.get("dimensions", [])) == 5 and b.get("limit") != "1"
    ]
    assert {r.offset for r in loads} >= {0, 2000}  # paged
    assert all(r.return_property_quota and r.limit == 2000 and not r.keep_empty_rows for r in loads)
    assert {(r.date_ranges[0].start_date, r.date_ranges[0].end_date) for r in loads} >= {
        ("2025-01-01", "2025-01-31")
    }
    ordered = loads[0].order_bys
    assert [o.dimension.dimension_name for o in ordered] == [d.name for d in loads[0].dimensions]


def test_every_response_parses_as_run_report_response(ga4, sent):
    url = ga4.url + "{path}"
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}

    def serve(path: str, body: dict[str, Any]) -> RunReportResponse:
        resp = requests.post(url.format(path=path), headers=headers, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return RunReportResponse.from_json(resp.text, ignore_unknown_fields=False)

    for path, body in sent:
        response = serve(path, body)
        assert response.kind == "analyticsData#runReport"
        assert [h.name for h in response.dimension_headers] == [d["name"] for d in body.get("dimensions", [])]
    path, body = next(
        (p, b) for p, b in sent if b.get("returnPropertyQuota") and len(b.get("dimensions", [])) == 5
    )
    quota = serve(path, body).property_quota
    assert 0 < quota.tokens_per_hour.remaining < 40_000 and quota.tokens_per_day.consumed >= 1
    requests.post(f"{ga4.url}/_emulator/control", json={"thresholding": 3, "sample_above": 100,
                                                        "cardinality_limit": 4}, timeout=10)  # fmt: skip
    try:
        flagged = serve(path, {**body, "limit": "100000", "offset": "0"})
    finally:
        requests.post(f"{ga4.url}/_emulator/control", json={"reset": True}, timeout=10)
    meta = flagged.metadata
    assert meta.subject_to_thresholding and meta.data_loss_from_other_row
    assert meta.sampling_metadatas[0].samples_read_count == 100
    assert meta.sampling_metadatas[0].sampling_space_size > 100
    assert any(v.value == "(other)" for row in flagged.rows for v in row.dimension_values)


def test_the_emulator_knows_the_fields_google_defines(ga4):
    """What the emulator answers 400 for is exactly what the library's messages do not define."""
    for name, fields in MESSAGES.items():
        descriptor = LIBRARY_MESSAGES[name].meta.pb.DESCRIPTOR
        assert set(fields) == {f.json_name for f in descriptor.fields}, name


def test_a_planted_unknown_field_fails_the_library_and_the_emulator(ga4, sent):
    path, body = sent[0]
    planted = {
        "top": {**body, "returnQuota": True},
        "nested": {**body, "dateRanges": [{**body["dateRanges"][0], "timeZone": "UTC"}]},
        "deep": {**body, "orderBys": [{"dimension": {"dimensionName": "date", "direction": "asc"}}]},
    }
    for case, wrong in planted.items():
        with pytest.raises(ParseError):
            strict_request(path, wrong)
        resp = requests.post(
            ga4.url + path, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, json=wrong, timeout=10
        )
        assert resp.status_code == 400 and "Cannot find field." in resp.json()["error"]["message"], case
    with pytest.raises(ParseError):
        RunReportResponse.from_json(json.dumps({"rowCount": 1, "rowTotal": 1}), ignore_unknown_fields=False)
