"""Load closed landing files into `events.events`, exactly once, fast.

Guarantees (each one is tested in tests/events/):
- every line of a file is accounted for: inserted into `events.events`, skipped as a duplicate of a
  `message_id` already there (within a file, across files, across runs), or written to
  `events.rejected` with its reason and raw text; `events.loaded_files` keeps the per-file counts;
- a batch of files is staged and applied in ONE transaction together with its `loaded_files` rows, so a
  load that dies midway leaves nothing behind and a re-run continues where it stopped;
- a file is loaded once: files already in `loaded_files` are skipped (runs are serialised with an
  advisory lock); only complete `*.jsonl` files are read, never the collector's `*.jsonl.open`;
- a line is valid by the rules of ingestion/events/validate.py, the collector's too, and its verdict
  never depends on the other lines of its file or batch (fast path, per-line path and the strict
  insert reach the same verdict; tests/events/test_edge_corpus.py).

Why COPY + SQL and not a dlt pipeline on the hot path: measured on this 2-core machine
(tests/bench/events_ingest.py, figures in docs/events.md), dlt's Arrow + COPY path moves ~4-5x fewer
rows per second than the 150 k rows/s target because every row is parsed in Python, written as
Parquet, read back and COPYed, and dlt's load state lives in separate tables committed in a separate
step, which cannot make "rows + this file is done" atomic. Here each file is COPYed verbatim into a
temp `jsonb` column (Postgres' C parser does the JSON work) and one `insert … on conflict do nothing`
validates, flattens and dedupes; the bookkeeping that dlt state would hold is `events.loaded_files`,
written in the same transaction. The tables keep dlt's `_dlt_load_id` / `_dlt_id` columns so the raw
contract looks the same as for the dlt-loaded sources.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.events.landing import LandingDirMissing, closed_landing_files, missing_landing_dir
from ingestion.events.load import sql as q
from ingestion.events.validate import line_reason, may_hold_deep_lines
from ingestion.warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

BATCH_BYTES = int(os.environ.get("EVENTS_LOADER_BATCH_BYTES", 64 * 1024 * 1024))
WORKERS = int(os.environ.get("EVENTS_LOADER_WORKERS", 2))
COPY_CHUNK = 1024 * 1024
MAX_RETRIES = 3
# Bytes that force the line-by-line path: they either break the verbatim CSV COPY (\r, our delimiter
# and quote characters, NUL) or are never in valid JSON text outside strings.
_UNSAFE_BYTES = (b"\r", b"\x00", b"\x01", b"\x02")


@dataclass
class LoadResult:
    """What one `load_landing_files` call did. lines = rows_loaded + rows_rejected + duplicates_skipped."""

    files: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    duplicates_skipped: int = 0
    files_skipped: int = 0
    load_id: str = ""
    seconds: float = 0.0
    file_names: list[str] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.rows_loaded + self.rows_rejected + self.duplicates_skipped


@dataclass
class _FileOutcome:
    landing_file: str
    lines: int = 0
    loaded: int = 0
    rejected: int = 0

    @property
    def duplicates(self) -> int:
        return self.lines - self.loaded - self.rejected


def _connect(settings: WarehouseSettings) -> psycopg.Connection:
    return psycopg.connect(settings.role_url("loader"), options="-c timezone=UTC -c temp_buffers=256MB")


def ensure_tables(conn: psycopg.Connection, schema: str = "events") -> None:
    """Create the contract's events tables if missing (idempotent)."""
    conn.execute(sql.SQL(q.DDL).format(schema=sql.Identifier(schema)))


def _lock_key(schema: str) -> str:
    return f"journey.events.loader:{schema}"


def load_landing_files(
    landing_dir: Path,
    settings: WarehouseSettings | None = None,
    *,
    schema: str = "events",
    workers: int | None = None,
    batch_bytes: int | None = None,
) -> LoadResult:
    """Load every closed landing file under `landing_dir` not loaded before. Safe to re-run at any time.

    Runs as the warehouse `loader` role. `schema` exists for tests and benchmarks that need a private
    copy of the contract's tables; production always uses `events`.
    """
    settings = settings or WarehouseSettings.from_env()
    landing_dir = Path(landing_dir).resolve()
    if not landing_dir.is_dir():
        # a configured source with nowhere to read from is a mistake to report, not "0 rows loaded"
        raise LandingDirMissing(missing_landing_dir(landing_dir))
    t0 = time.perf_counter()
    result = LoadResult(load_id=f"{time.time():.6f}")
    with _connect(settings) as coord:
        coord.autocommit = True
        coord.execute("select pg_advisory_lock(hashtext(%s))", (_lock_key(schema),))
        ensure_tables(coord, schema)
        done = {
            r[0]
            for r in coord.execute(
                sql.SQL("select landing_file from {}.loaded_files").format(sql.Identifier(schema))
            )
        }
        todo: list[tuple[str, Path]] = []
        for path in closed_landing_files(landing_dir):
            rel = path.relative_to(landing_dir).as_posix()
            if rel in done:
                result.files_skipped += 1
            else:
                todo.append((rel, path))
        batches = list(_batches(todo, batch_bytes or BATCH_BYTES))
        outcomes = _run_batches(settings, schema, batches, result.load_id, workers or WORKERS)
        coord.execute("select pg_advisory_unlock(hashtext(%s))", (_lock_key(schema),))
    for o in outcomes:
        result.files += 1
        result.file_names.append(o.landing_file)
        result.rows_loaded += o.loaded
        result.rows_rejected += o.rejected
        result.duplicates_skipped += o.duplicates
    result.seconds = time.perf_counter() - t0
    log.info(
        "events load %s: %d files, %d loaded, %d rejected, %d duplicates in %.1fs",
        result.load_id, result.files, result.rows_loaded, result.rows_rejected,
        result.duplicates_skipped, result.seconds,
    )  # fmt: skip
    return result


def _batches(files: list[tuple[str, Path]], max_bytes: int) -> Iterator[list[tuple[str, Path]]]:
    batch: list[tuple[str, Path]] = []
    size = 0
    for rel, path in files:
        n = path.stat().st_size
        if batch and size + n > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append((rel, path))
        size += n
    if batch:
        yield batch


def _run_batches(
    settings: WarehouseSettings,
    schema: str,
    batches: list[list[tuple[str, Path]]],
    load_id: str,
    workers: int,
) -> list[_FileOutcome]:
    """Apply batches on `workers` connections; each batch commits on its own (exactly-once per file)."""
    if not batches:
        return []
    local = threading.local()
    conns: list[psycopg.Connection] = []
    lock = threading.Lock()

    def conn_for_thread() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = _connect(settings)
            conn.execute(q.STAGE_DDL)
            conn.commit()
            local.conn = conn
            with lock:
                conns.append(conn)
        return conn

    def work(batch: list[tuple[str, Path]]) -> list[_FileOutcome]:
        return _load_batch_with_retry(conn_for_thread(), schema, batch, load_id)

    try:
        if workers <= 1 or len(batches) == 1:
            results = [work(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="events-load") as pool:
                results = list(pool.map(work, batches))
    finally:
        for conn in conns:
            conn.close()
    return [o for batch_outcomes in results for o in batch_outcomes]


def _load_batch_with_retry(
    conn: psycopg.Connection, schema: str, batch: list[tuple[str, Path]], load_id: str
) -> list[_FileOutcome]:
    """Two workers inserting the same message_id concurrently may deadlock; the batch is atomic, so retry."""
    for attempt in range(1, MAX_RETRIES + 1):
        try:
            return _load_batch(conn, schema, batch, load_id)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            conn.rollback()
            if attempt == MAX_RETRIES:
                raise
            log.warning("events load: batch of %d files retried after a deadlock", len(batch))
    raise AssertionError("unreachable")


def _load_batch(
    conn: psycopg.Connection, schema: str, batch: list[tuple[str, Path]], load_id: str
) -> list[_FileOutcome]:
    """Stage, apply and record one batch of files in a single transaction."""
    outcomes: dict[str, _FileOutcome] = {}
    contents: dict[str, bytes] = {}
    py_rejects: list[tuple[str, int, str]] = []
    with conn.cursor() as cur:
        for rel, path in batch:
            data = path.read_bytes()
            contents[rel] = data
            lines, rejects = _stage_file(conn, cur, rel, data)
            outcomes[rel] = _FileOutcome(rel, lines=lines)
            py_rejects.extend(rejects)
        inserted = _apply(conn, cur, schema, load_id)
        for rel, n in inserted.items():
            outcomes[rel].loaded = n
        rejects = [(rel, line, None, reason) for rel, line, reason in py_rejects]
        staged = sum(o.lines for o in outcomes.values()) - len(py_rejects)
        if sum(inserted.values()) != staged:
            # some staged rows were invalid or duplicates: a second pass names the invalid ones
            rejects += cur.execute(q.select_rejects()).fetchall()
        for rel, *_ in rejects:
            outcomes[rel].rejected += 1
        _write_rejects(cur, schema, rejects, contents, load_id)
        _record_files(cur, schema, list(outcomes.values()), load_id)
    conn.commit()
    return list(outcomes.values())


def _apply(conn: psycopg.Connection, cur: psycopg.Cursor, schema: str, load_id: str) -> dict[str, int]:
    """Insert the staged valid rows. The fast statement casts well-shaped timestamps without checking
    them first; an impossible one ('2025-13-40T…') makes it raise, and the strict statement, which
    checks every timestamp with `pg_input_is_valid`, runs instead (so the row is rejected, not the batch)."""
    try:
        with conn.transaction():
            cur.execute(q.insert_events(schema), q.insert_params(load_id))
    except psycopg.errors.DataError as exc:
        log.info("events load: strict insert after %s", exc.diag.message_primary)
        cur.execute(q.insert_events(schema, strict=True), q.insert_params(load_id))
    return dict(cur.fetchall())


def _stage_file(
    conn: psycopg.Connection, cur: psycopg.Cursor, rel: str, data: bytes
) -> tuple[int, list[tuple[str, int, str]]]:
    """COPY one file into the staging table. Returns (lines, rejects found before SQL_REASON runs)."""
    cur.execute(
        sql.SQL("alter table _events_stage alter column landing_file set default {}").format(sql.Literal(rel))
    )
    cur.execute("alter table _events_stage alter column line_no restart with 1")
    if _verbatim_ok(data):
        try:
            with conn.transaction(), cur.copy(q.COPY_LINES) as copy:
                for i in range(0, len(data), COPY_CHUNK):
                    copy.write(data[i : i + COPY_CHUNK])
            return cur.rowcount, []
        except psycopg.errors.DataError as exc:
            # A line Postgres cannot parse as jsonb (malformed JSON, bad UTF-8, \u0000): per-line path.
            log.info("events load: %s needs the line-by-line path (%s)", rel, exc.diag.message_primary)
    return _stage_lines(cur, rel, data)


def _verbatim_ok(data: bytes) -> bool:
    """May `data` be COPYed as it is? Not when a byte would break the CSV COPY, when a line is the
    COPY end marker, or when a line may be nested deeper than the shared limit (Postgres would parse
    it, the collector refuses it: such files take the per-line path, where `line_reason` decides)."""
    if any(b in data for b in _UNSAFE_BYTES):
        return False
    # a line that is exactly "\." ends a CSV COPY early
    if data.startswith(b"\\.\n") or b"\n\\.\n" in data or data.endswith(b"\n\\."):
        return False
    return not may_hold_deep_lines(data)


def _split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _stage_lines(cur: psycopg.Cursor, rel: str, data: bytes) -> tuple[int, list[tuple[str, int, str]]]:
    """Per-line path for files the verbatim COPY cannot take. Each line is judged alone, by the same
    `line_reason` the collector applies to a request, then by Postgres' own jsonb parser (a line that
    it refuses is rejected with its message): so a line's fate never depends on its neighbours."""
    rejects: list[tuple[str, int, str]] = []
    lines = _split_lines(data)
    with cur.copy(q.COPY_TEXT_ROWS) as copy:
        for no, line in enumerate(lines, start=1):
            if not line.strip():
                copy.write_row((rel, no, None))  # staged as NULL: SQL says 'empty line'
                continue
            reason = line_reason(line)
            if reason:
                rejects.append((rel, no, reason))
            else:
                copy.write_row((rel, no, line.decode("utf-8")))
    rejects += cur.execute(q.TEXT_REJECTS).fetchall()
    cur.execute(q.TEXT_TO_STAGE)
    cur.execute(q.TEXT_CLEAR)
    return len(lines), rejects


def _raw_text(line: bytes) -> str:
    return line.decode("utf-8", "replace").replace("\x00", "\\u0000")


def _write_rejects(
    cur: psycopg.Cursor,
    schema: str,
    rejects: list[tuple[str, int, str | None, str]],
    contents: dict[str, bytes],
    load_id: str,
) -> None:
    if not rejects:
        return
    by_file: dict[str, list[bytes]] = defaultdict(list)
    for rel in {r[0] for r in rejects}:
        by_file[rel] = _split_lines(contents[rel])
    stmt = sql.SQL(
        "copy {}.rejected (landing_file, line_number, message_id, reason, raw, _dlt_load_id, _dlt_id) "
        "from stdin"
    ).format(sql.Identifier(schema))
    with cur.copy(stmt) as copy:
        for rel, no, message_id, reason in rejects:
            lines = by_file[rel]
            raw = _raw_text(lines[no - 1]) if 0 < no <= len(lines) else ""
            copy.write_row((rel, no, message_id, reason, raw, load_id, f"{load_id}:{rel}:{no}"))


def _record_files(cur: psycopg.Cursor, schema: str, outcomes: list[_FileOutcome], load_id: str) -> None:
    """The batch's bookkeeping rows: committed with its events, so a file is never loaded twice."""
    cur.executemany(
        sql.SQL(
            "insert into {}.loaded_files (landing_file, rows_loaded, rows_rejected, rows_duplicate, "
            "_dlt_load_id, _dlt_id) values (%s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema)),
        [
            (o.landing_file, o.loaded, o.rejected, o.duplicates, load_id, f"{load_id}:{o.landing_file}")
            for o in outcomes
        ],
    )
