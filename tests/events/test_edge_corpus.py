"""Collector and loader agree on every line of a corpus of edge cases (tests/events/fixtures/edge_corpus.jsonl).

Each corpus line is an event as a client could send it (NUL, escaped NUL, literal backslash-u text,
deep nesting, null objects, big numbers, odd timestamps, ...) with the verdict both must reach. The
lines go through the real collector over HTTP and, as landing lines, through the real loader into the
session warehouse, each alone and all mixed together: a verdict must not depend on the neighbours.
What the collector acknowledged is then loaded as well: nothing it answered 200 for is rejected.

Corpus line: `case`, `expect` ("accepted" or the start of the reason), `loader` (only where the loader's verdict
differs: a documented gap), `stored` (SQL expression -> text it must hold for the loaded row), `note`, and `raw`
(the event's JSON text) or `raw_hex` (for bytes that are not UTF-8). Templates in it: `${mid}` (a messageId per
line and run), `${now}`, `${now+23h}`, `${now+25h}`, `${nest:N}` (N nested objects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.load import load_landing_files
from ingestion.events.validate import INVALID_UTF8, MALFORMED
from ingestion.warehouse import WarehouseSettings
from tests.events.conftest import rows
from tests.events.factory import iso, write_jsonl

CORPUS = Path(__file__).parent / "fixtures" / "edge_corpus.jsonl"
ACCEPTED = "accepted"
_TEMPLATE = re.compile(rb"\$\{(mid|now|now\+23h|now\+25h|nest:\d+)\}")


def _corpus() -> list[dict]:
    return [orjson.loads(line) for line in CORPUS.read_bytes().splitlines() if line.strip()]


def _render(case: dict, index: int, variant: str, now: datetime) -> bytes:
    raw = bytes.fromhex(case["raw_hex"]) if "raw_hex" in case else case["raw"].encode("utf-8")

    def fill(match: re.Match) -> bytes:
        name = match.group(1).decode()
        if name == "mid":
            return f"{variant}-{index:03d}".encode()
        if name.startswith("nest:"):
            n = int(name[5:])
            return b'{"a":' * n + b"1" + b"}" * n
        hours = {"now": 0, "now+23h": 23, "now+25h": 25}[name]
        return iso(now + timedelta(hours=hours)).encode()

    return _TEMPLATE.sub(fill, raw)


def _landing_line(raw: bytes, received_at: str) -> bytes:
    """The line as the collector would land it: `receivedAt` first (the event's own keys follow)."""
    if raw.startswith(b"{") and not raw.startswith(b"{}"):
        return b'{"receivedAt":"' + received_at.encode() + b'",' + raw[1:]
    return raw


def _whole_request(expected: str) -> bool:
    """Verdicts about the text itself: the collector refuses the whole request, so such a line cannot
    share a batch with others (the loader still sees it beside the others)."""
    return expected.startswith(MALFORMED) or expected == INVALID_UTF8


def _post(client: httpx.Client, lines: list[bytes]) -> list[str]:
    r = client.post("/v1/batch", content=b'{"batch":[' + b",".join(lines) + b"]}")
    body = r.json()
    assert r.status_code in (200, 400), (r.status_code, body)
    if "error" in body:
        return [body["error"]] * len(lines)
    refused = {p["index"]: p["reason"] for p in body.get("rejected", [])}
    assert body["accepted"] == len(lines) - len(refused)
    return [refused.get(i, ACCEPTED) for i in range(len(lines))]


def _loader_verdicts(warehouse: WarehouseSettings, schema: str) -> dict[tuple[str, int], str]:
    """(landing_file, line) -> reason of every rejected line; the other lines were loaded."""
    verdicts = {
        (f, n): r
        for f, n, r in rows(warehouse, f"select landing_file, line_number, reason from {schema}.rejected")
    }
    assert rows(warehouse, f"select count(*) from {schema}.loaded_files where rows_duplicate > 0") == [(0,)]
    return verdicts


@pytest.fixture
def schemas(warehouse: WarehouseSettings) -> Iterator[Callable[[], str]]:
    """Private schema names for loads (dropped afterwards)."""
    made: list[str] = []

    def make() -> str:
        made.append(f"events_corpus_{len(made)}")
        return made[-1]

    yield make
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop schema if exists "{name}" cascade')


def _matches(verdict: str, expected: str) -> bool:
    return verdict == ACCEPTED if expected == ACCEPTED else verdict.startswith(expected)


def test_collector_and_loader_agree_line_by_line(
    tmp_path: Path, warehouse: WarehouseSettings, schemas: Callable[[], str]
) -> None:
    corpus = _corpus()
    now = datetime.now(UTC)
    received = iso(now)

    # the collector, over HTTP: each line alone, then every line that can share a batch in one batch
    landing = tmp_path / "collector" / "events"
    with running_collector(CollectorConfig(landing_dir=landing)) as url, httpx.Client(base_url=url) as client:
        c_alone = [_post(client, [_render(c, i, "ca", now)])[0] for i, c in enumerate(corpus)]
        batchable = [i for i, c in enumerate(corpus) if not _whole_request(c["expect"])]
        c_mixed = dict(
            zip(batchable, _post(client, [_render(corpus[i], i, "cm", now) for i in batchable]), strict=True)
        )

    # the loader: each line in a file of its own, then all lines in one file
    alone_dir, mixed_dir = tmp_path / "alone", tmp_path / "mixed"
    for i, c in enumerate(corpus):
        write_jsonl(
            alone_dir / "dt=2025-01-02" / f"line-{i:03d}.jsonl",
            [_landing_line(_render(c, i, "la", now), received)],
        )
    write_jsonl(
        mixed_dir / "dt=2025-01-02" / "mixed.jsonl",
        [_landing_line(_render(c, i, "lm", now), received) for i, c in enumerate(corpus)],
    )
    s_alone, s_mixed = schemas(), schemas()
    # one batch per file: each takes the verbatim COPY and the fast insert unless its own line forces the
    # per-line path or the strict insert; the mixed file takes both (its NUL, BOM and bad UTF-8 lines)
    assert load_landing_files(alone_dir, warehouse, schema=s_alone, batch_bytes=1).lines == len(corpus)
    assert load_landing_files(mixed_dir, warehouse, schema=s_mixed).lines == len(corpus)
    l_alone = _loader_verdicts(warehouse, s_alone)
    l_mixed = _loader_verdicts(warehouse, s_mixed)

    problems = []
    for i, c in enumerate(corpus):
        alone = l_alone.get((f"dt=2025-01-02/line-{i:03d}.jsonl", 1), ACCEPTED)
        mixed = l_mixed.get(("dt=2025-01-02/mixed.jsonl", i + 1), ACCEPTED)
        expected_loader = c.get("loader", c["expect"])
        got = {
            "collector": c_alone[i],
            "collector mixed": c_mixed.get(i, c_alone[i]),
            "loader": alone,
            "loader mixed": mixed,
        }
        ok = (
            _matches(c_alone[i], c["expect"])
            and _matches(alone, expected_loader)
            and got["collector mixed"] == c_alone[i]  # the same reason beside the others
            and mixed == alone
            and ("loader" in c or c["expect"].startswith(MALFORMED) or alone == c_alone[i])
        )
        if not ok:
            problems.append(f"{c['case']}: expected {c['expect']!r} (loader {expected_loader!r}), got {got}")
    assert not problems, "\n".join(problems)

    # everything the collector acknowledged loads, none of it rejected, digits kept
    s_landed = schemas()
    result = load_landing_files(landing, warehouse, schema=s_landed)
    acknowledged = {f"ca-{i:03d}" for i, v in enumerate(c_alone) if v == ACCEPTED}
    acknowledged |= {f"cm-{i:03d}" for i, v in c_mixed.items() if v == ACCEPTED}
    assert result.rows_rejected == 0, rows(warehouse, f"select reason, raw from {s_landed}.rejected")
    assert {r[0] for r in rows(warehouse, f"select message_id from {s_landed}.events")} == acknowledged
    for i, c in enumerate(corpus):
        for expr, value in c.get("stored", {}).items():
            for schema, mid in ((s_landed, f"ca-{i:03d}"), (s_alone, f"la-{i:03d}")):
                got = rows(
                    warehouse, f"select ({expr})::text from {schema}.events where message_id = %s", mid
                )
                assert got == [(value,)], (c["case"], schema, got)
