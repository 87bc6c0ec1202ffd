"""Order history import: past orders from the platform a brand migrated from, as CSV or Parquet files.

`ORDER_HISTORY_PATH` is one file or a directory (every `*.csv` / `*.parquet` below it, in name order).
Columns: `order_id`, `customer_id`, `ordered_at` (ISO date or timestamp; naive = UTC), `amount`
(decimal) are required; `currency` (3 letters) and `items` (JSON list/object) are optional.

Every file is read and validated before a single row is handed to dlt, so a malformed file loads
nothing: the error names the file, the line (CSV: physical line, header = 1; Parquet: row number,
first row = 1) and the reason. Rows merge on `order_id`, so re-importing the same files is a no-op.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

REQUIRED = ("order_id", "customer_id", "ordered_at", "amount")
OPTIONAL = ("currency", "items")
SUFFIXES = (".csv", ".parquet")


class OrderHistoryError(ValueError):
    """A malformed order history file; the message reads `<file>:<line>: <reason>`."""

    def __init__(self, file: Path | str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"order history {where}: {reason}")
        self.file, self.line, self.reason = str(file), line, reason


def history_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    raise OrderHistoryError(root, None, "ORDER_HISTORY_PATH does not exist")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        ts = value
    else:
        text = _text(value)
        if text is None:
            raise ValueError("ordered_at is empty")
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"ordered_at {text!r} is not an ISO date or timestamp") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _amount(value: Any) -> Decimal:
    text = _text(value)
    if text is None:
        raise ValueError("amount is empty")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"amount {text!r} is not a number") from exc
    if not amount.is_finite():
        raise ValueError(f"amount {text!r} is not a finite number")
    return amount


def _items(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (list, dict)):
        return value
    try:
        items = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"items is not valid JSON: {str(value)[:80]!r}") from exc
    if not isinstance(items, (list, dict)):
        raise ValueError("items must be a JSON list or object")
    return items


def _row(raw: dict[str, Any], source_file: str, line: int) -> dict[str, Any]:
    for column in ("order_id", "customer_id"):
        if _text(raw.get(column)) is None:
            raise ValueError(f"{column} is empty")
    currency = _text(raw.get("currency"))
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise ValueError(f"currency {currency!r} is not a 3-letter code")
    return {
        "order_id": _text(raw["order_id"]),
        "customer_id": _text(raw["customer_id"]),
        "ordered_at": _timestamp(raw.get("ordered_at")),
        "amount": _amount(raw.get("amount")),
        "currency": currency.upper() if currency else None,
        "items": _items(raw.get("items")),
        "source_file": source_file,
        "source_line": line,
    }


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, raw record) of one file; structural problems raise OrderHistoryError."""
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise OrderHistoryError(path, None, f"not a readable Parquet file ({exc})") from exc
        _check_columns(path, table.column_names)
        for n, record in enumerate(table.to_pylist(), start=1):
            yield n, record
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_columns(path, reader.fieldnames or [])
        width = len(reader.fieldnames or [])
        for record in reader:
            line = reader.line_num
            if None in record or any(v is None for v in record.values()):
                got = width + len(record.get(None) or []) - sum(v is None for v in record.values())
                raise OrderHistoryError(path, line, f"expected {width} fields, got {got}")
            yield line, record


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise OrderHistoryError(path, 1, f"missing required column(s) {', '.join(missing)}")


def read_order_history(path: str | Path) -> list[dict[str, Any]]:
    """Every row of every history file, validated; raises on the first malformed line."""
    root = Path(path)
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for file in history_files(root):
        name = file.relative_to(root).as_posix() if root.is_dir() else file.name
        for line, record in _records(file):
            try:
                row = _row(record, name, line)
            except ValueError as exc:
                raise OrderHistoryError(file, line, str(exc)) from exc
            if row["order_id"] in seen:
                raise OrderHistoryError(
                    file, line, f"order_id {row['order_id']!r} already appears at {seen[row['order_id']]}"
                )
            seen[row["order_id"]] = f"{name}:{line}"
            rows.append(row)
    return rows
