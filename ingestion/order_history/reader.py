"""Order history import: past orders from the platform a brand migrated from, as CSV or Parquet files.

`ORDER_HISTORY_PATH` is one file or a directory (every `*.csv` / `*.parquet` below it, in name order).
CSV is comma-separated UTF-8 (a BOM is fine) with a header row; header names are matched
case-insensitively, surrounding spaces ignored.

| column | required | meaning |
|---|---|---|
| `order_id` | yes | the order's id on the old platform (any text) |
| `customer_id` | yes | the customer's id there (any text: `C-0001`, an email, a 19-digit number...) |
| `ordered_at` | yes | ISO date or timestamp (`2024-03-01`, `20240301`, `2024-03-01 10:00:00+02`); naive = UTC |
| `amount` | yes* | order total (decimal); *may be empty when every line of the order has quantity and price |
| `currency` | no | 3-letter code |
| `email` | no | the customer's email; hashed in dbt staging, joins Shopify customers with the same email |
| `items` | no | JSON list of line items `[{"product_id", "sku", "title", "quantity", "price"}]` |
| `product_id`, `sku`, `title`, `quantity`, `price` | no | one line item per row (the "one row per line" exports): rows repeating an `order_id` are that order's lines |

Either shape of line items works, or none: an order may have no items (an order-level export), and a
file may mix orders with and without items. A line needs a `product_id` or a `sku`; quantity defaults
to 1; `price` is the unit price.

Every file is read and validated before a single row is handed to dlt, so a malformed file loads
nothing: the error names the file, the line (CSV: physical line, header = 1; Parquet: row number,
first row = 1) and the reason. Orders merge on `order_id` and their lines are replaced per order, so
re-importing the same files is a no-op.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.order_history.settings import SUFFIXES

REQUIRED = ("order_id", "customer_id", "ordered_at", "amount")
ORDER_FIELDS = ("customer_id", "ordered_at", "amount", "currency", "email")
LINE_COLUMNS = ("product_id", "sku", "title", "quantity", "price")


class OrderHistoryError(ValueError):
    """A malformed order history file; the message reads `<file>:<line>: <reason>`."""

    def __init__(self, file: Path | str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"order history {where}: {reason}")
        self.file, self.line, self.reason = str(file), line, reason


@dataclass
class OrderHistory:
    """The validated rows of every file: `orders` and `order_items` of the raw contract."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    order_items: list[dict[str, Any]] = field(default_factory=list)


def history_files(path: str | Path) -> list[Path]:
    """The export files at `path`, in name order. A missing path or a folder without a single export
    file is an error, not an empty import: either is a wrong path (or an export not copied yet), and a
    load that "succeeds" with 0 rows would hide it until someone misses the history in a report."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise OrderHistoryError(
            root, None, "ORDER_HISTORY_PATH does not exist: check the path, or unset ORDER_HISTORY_PATH"
        )
    files = sorted(p for p in root.rglob("*") if p.is_file())
    found = [p for p in files if p.suffix.lower() in SUFFIXES]
    if not found:
        others = ", ".join(p.relative_to(root).as_posix() for p in files[:5]) + (
            ", ..." if len(files) > 5 else ""
        )
        raise OrderHistoryError(
            root, None,
            "ORDER_HISTORY_PATH is a folder without any .csv or .parquet file (subfolders included)"
            + (f"; it holds only {others}" if files else ", it is empty")
            + ": copy the export there, or point ORDER_HISTORY_PATH at the file",
        )  # fmt: skip
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from Parquet/pandas exports
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


def _decimal(value: Any, name: str) -> Decimal | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{name} {text!r} is not a number") from exc
    if not number.is_finite():
        raise ValueError(f"{name} {text!r} is not a finite number")
    return number


def _quantity(value: Any) -> int:
    number = _decimal(value, "quantity")
    if number is None:
        return 1
    if number != number.to_integral_value():
        raise ValueError(f"quantity {value!r} is not a whole number")
    return int(number)


def _line(raw: dict[str, Any]) -> dict[str, Any] | None:
    """One line item from a row's line columns or an `items` element; None when the row has none."""
    values = {c: _text(raw.get(c)) for c in LINE_COLUMNS}
    if not any(values.values()):
        return None
    if values["product_id"] is None and values["sku"] is None:
        raise ValueError("a line item needs a product_id or a sku")
    return {
        "product_id": values["product_id"],
        "sku": values["sku"],
        "title": values["title"],
        "quantity": _quantity(raw.get("quantity")),
        "price": _decimal(raw.get("price"), "price"),
    }


def _items(value: Any) -> list[dict[str, Any]]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    items = value
    if not isinstance(value, (list, dict)):
        try:
            items = json.loads(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"items is not valid JSON: {str(value)[:80]!r}") from exc
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("items must be a JSON list of objects (or one object)")
    lines = []
    for n, item in enumerate(items, start=1):
        try:
            line = _line({k.strip().lower(): v for k, v in item.items()})
        except ValueError as exc:
            raise ValueError(f"items[{n}]: {exc}") from exc
        if line is not None:
            lines.append(line)
    return lines


def _order(raw: dict[str, Any], continuation: bool = False) -> dict[str, Any]:
    """Order fields of a row; a further line of an order already seen may leave them empty."""
    if _text(raw.get("order_id")) is None:
        raise ValueError("order_id is empty")
    if not continuation and _text(raw.get("customer_id")) is None:
        raise ValueError("customer_id is empty")
    currency = _text(raw.get("currency"))
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise ValueError(f"currency {currency!r} is not a 3-letter code")
    return {
        "order_id": _text(raw["order_id"]),
        "customer_id": _text(raw.get("customer_id")),
        "email": _text(raw.get("email")),
        "ordered_at": None
        if continuation and _text(raw.get("ordered_at")) is None
        else _timestamp(raw.get("ordered_at")),
        "amount": _decimal(raw.get("amount"), "amount"),
        "currency": currency.upper() if currency else None,
    }


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, raw record with lower-cased keys) of one file; structural problems raise OrderHistoryError."""
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise OrderHistoryError(path, None, f"not a readable Parquet file ({exc})") from exc
        names = [c.strip().lower() for c in table.column_names]
        _check_columns(path, names)
        yield from enumerate(table.rename_columns(names).to_pylist(), start=1)
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            try:
                header = [c.strip().lower() for c in next(reader)]
            except StopIteration:
                raise OrderHistoryError(path, 1, "empty file (no header)") from None
            _check_columns(path, header)
            for values in reader:
                if not values:
                    continue  # a blank line
                if len(values) != len(header):
                    raise OrderHistoryError(
                        path, reader.line_num, f"expected {len(header)} fields, got {len(values)}"
                    )
                yield reader.line_num, dict(zip(header, values, strict=True))
        except UnicodeDecodeError as exc:
            # the encoding is not guessed: a wrong guess would load garbled names silently
            raise OrderHistoryError(
                path, _first_undecodable_line(path), f"not UTF-8 text ({exc.reason}): save the file as UTF-8"
            ) from exc


def _first_undecodable_line(path: Path) -> int | None:
    """Physical line (1 = header) of the first bytes that are not UTF-8 (the decoder reads in chunks)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise OrderHistoryError(path, 1, f"missing required column(s) {', '.join(missing)}")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise OrderHistoryError(path, 1, f"duplicated column(s) {', '.join(duplicated)}")


def _merge(order: dict[str, Any], row: dict[str, Any], where: str) -> None:
    """A further line of a one-row-per-line export: its order fields must agree with the first line's
    (empty repeats are fine, as exports often leave them blank on later lines). Line timestamps may
    differ (exports stamp each line): the order was placed at the earliest."""
    for name in ORDER_FIELDS:
        new = row[name]
        if new is None:
            continue
        if order[name] is None:
            order[name] = new
        elif name == "ordered_at":
            order[name] = min(order[name], new)
        elif order[name] != new:
            raise ValueError(f"{name} {new!s} differs from {order[name]!s} given for this order at {where}")


def read_order_history(path: str | Path) -> OrderHistory:
    """Every order and line of every history file, validated; raises on the first malformed line."""
    root = Path(path)
    history = OrderHistory()
    orders: dict[str, dict[str, Any]] = {}
    for file in history_files(root):
        name = file.relative_to(root).as_posix() if root.is_dir() else file.name
        in_file: set[str] = set()
        for line_no, record in _records(file):
            try:
                lines = _items(record.get("items"))
                line = _line(record)
                if line is not None:
                    lines.append(line)
                order_id = _text(record.get("order_id"))
                order = orders.get(order_id) if order_id else None
                if order is not None and (order_id not in in_file or not lines or not order["_lines"]):
                    raise ValueError(
                        f"order_id {order_id!r} already appears at {order['_where']}"
                        + (" (only line-item rows may repeat it)" if order_id in in_file else "")
                    )
                row = _order(record, continuation=order is not None)
                if order is not None:
                    _merge(order, row, order["_where"])
                else:
                    order = {**row, "source_file": name, "source_line": line_no, "_where": f"{name}:{line_no}",
                             "_lines": []}  # fmt: skip
                    orders[row["order_id"]] = order
                    in_file.add(row["order_id"])
                for item in lines:
                    order["_lines"].append({**item, "source_file": name, "source_line": line_no})
            except ValueError as exc:
                raise OrderHistoryError(file, line_no, str(exc)) from exc
    for order in orders.values():
        lines = order.pop("_lines")
        where = order.pop("_where")
        if order["amount"] is None:
            if not lines or any(i["price"] is None for i in lines):
                file, line = where.rsplit(":", 1)
                raise OrderHistoryError(
                    root / file if root.is_dir() else root, int(line),
                    "amount is empty and the order's line items do not all have a price",
                )  # fmt: skip
            order["amount"] = sum((i["quantity"] * i["price"] for i in lines), Decimal(0))
        history.orders.append(order)
        for n, item in enumerate(lines, start=1):
            history.order_items.append({"order_id": order["order_id"], "line_number": n, **item})
    return history
