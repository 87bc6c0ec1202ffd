"""Arrow/Parquet helpers with fixed writer settings, so the same world gives byte-identical files.

Why build Arrow arrays by hand: money as exact `decimal128(12,2)` from integer cents and timestamps as
`timestamp[us, tz=UTC]` from integer milliseconds, with no pandas metadata and no float rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.sandbox.shop.config import START_DATE

MONEY = pa.decimal128(12, 2)
TS = pa.timestamp("us", tz="UTC")
START_EPOCH_MS = int(START_DATE.astype("datetime64[ms]").astype(np.int64))


def money(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """decimal128(12,2) from int64 cents (exact)."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    mask = None
    if null is not None and null.any():
        mask = pa.array(~null).buffers()[1]
    return pa.Array.from_buffers(MONEY, len(cents), [mask, pa.py_buffer(words.tobytes())])


def ts(rel_ms: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """timestamp[us, UTC] from ms relative to START_DATE."""
    us = (np.asarray(rel_ms, dtype=np.int64) + START_EPOCH_MS) * 1000
    return pa.array(us, type=pa.int64(), mask=null).cast(TS)


def date(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """date32 from day offsets relative to START_DATE."""
    d = START_DATE.astype(np.int64) + np.asarray(days, dtype=np.int64)
    return pa.array(d.astype(np.int32), type=pa.int32(), mask=null).cast(pa.date32())


def write(table: pa.Table, path: Path) -> int:
    """Write deterministically (zstd, fixed row groups, no pandas metadata); atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(
        table.replace_schema_metadata(None), tmp, compression="zstd", compression_level=3,
        row_group_size=256_000, use_dictionary=True, write_statistics=True, version="2.6",
        data_page_version="1.0", store_schema=False,
    )  # fmt: skip
    os.replace(tmp, path)
    return table.num_rows
