"""Metabase native-query templating: `{{tag}}` variables and `[[ optional clauses ]]`.

Metabase substitutes a card's template tags itself; we reimplement the same rules here so that the
tests can run every card's SQL against the warehouse exactly as Metabase would send it (with and
without the optional filters), and so that definitions are validated before anything reaches Metabase:
a tag outside an optional clause is required, an optional clause is dropped unless every tag in it
has a value, text values become quoted string literals, dates `date 'YYYY-MM-DD'` literals.

Field filters (`category`, `date_range`) become a condition on their column, as Metabase writes it:
`"marts"."fct_orders"."channel" = 'Email'`, or a half-open date range for a relative value such as
`past30days` (the 30 days before today, today excluded), `thismonth`, `lastmonth`, or an absolute
`2025-01-01~2025-03-31`. "Today" is Metabase's clock; `render(today=...)` lets a test evaluate the
ranges as of the day a shop's history ends.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

TAG_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OPTIONAL_RE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
UNSUPPORTED_RE = re.compile(r"\{\{\s*(#|snippet:)")

TAG_TYPES = ("text", "number", "date", "date_range", "category")
FIELD_FILTER_TYPES = ("date_range", "category")
RELATIVE_RE = re.compile(r"^(past|next)(\d+)(day|week|month|quarter|year)s?(~)?$")
THIS_RE = re.compile(r"^(this|last)(day|week|month|quarter|year)$")


class TemplateError(ValueError):
    """A native query whose tags cannot be substituted (missing value, nested clause, snippet...)."""


def tags_in(sql: str) -> list[str]:
    """Template tag names in order of first appearance."""
    seen: dict[str, None] = {}
    for match in TAG_RE.finditer(sql):
        seen.setdefault(match.group(1), None)
    return list(seen)


def required_tags(sql: str) -> set[str]:
    """Tags used outside any `[[ ... ]]` clause: the query cannot run without them."""
    return set(tags_in(OPTIONAL_RE.sub("", sql)))


def check_syntax(sql: str) -> None:
    """Reject what Metabase would reject or we cannot reproduce: unbalanced/nested clauses, snippets."""
    if UNSUPPORTED_RE.search(sql):
        raise TemplateError("snippets and card references ({{#..}}, {{snippet: ..}}) are not supported")
    outside = OPTIONAL_RE.sub("", sql)
    if "[[" in outside or "]]" in outside:
        raise TemplateError("unbalanced or nested [[ ... ]] optional clause")
    for clause in OPTIONAL_RE.findall(sql):
        if not TAG_RE.search(clause):
            raise TemplateError(f"optional clause without a template tag: [[{clause}]]")


def compared(sql: str, tag: str) -> bool:
    """True when `{{tag}}` is the operand of a comparison (`x = {{tag}}`), which a field filter cannot be."""
    pattern = r"(=|<|>|\blike|\bin\s*\(|\bbetween)\s*\{\{\s*" + re.escape(tag) + r"\s*\}\}"
    following = r"\{\{\s*" + re.escape(tag) + r"\s*\}\}\s*(=|<|>|!=|\blike\b|\bin\b|\bis\b)"
    return bool(re.search(pattern, sql, re.I) or re.search(following, sql, re.I))


def _unit_start(day: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return day
    if unit == "week":  # Metabase's default first day of the week: Sunday
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def _shift(day: dt.date, unit: str, n: int) -> dt.date:
    if unit == "day":
        return day + dt.timedelta(days=n)
    if unit == "week":
        return day + dt.timedelta(days=7 * n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def date_range(value: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """[start, end) of a Metabase date parameter value (None = open)."""
    text = str(value).strip()
    if match := RELATIVE_RE.match(text):
        direction, n, unit, include = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        current = _unit_start(today, unit)
        if direction == "past":
            end = _shift(current, unit, 1) if include else current
            return _shift(current, unit, -n), end
        start = current if include else _shift(current, unit, 1)
        return start, _shift(_shift(current, unit, 1), unit, n)
    if match := THIS_RE.match(text):
        current = _unit_start(today, match.group(2))
        if match.group(1) == "last":
            return _shift(current, match.group(2), -1), current
        return current, _shift(current, match.group(2), 1)
    if "~" in text:
        low, high = text.split("~", 1)
        start = dt.date.fromisoformat(low) if low else None
        end = dt.date.fromisoformat(high) + dt.timedelta(days=1) if high else None
        return start, end
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise TemplateError(f"not a Metabase date value: {value!r}") from exc
    return day, day + dt.timedelta(days=1)


def condition(field: str, value: Any, tag_type: str, today: dt.date | None = None) -> str:
    """The SQL Metabase puts in place of a field filter: `<column> <condition>`."""
    column = ".".join(f'"{part}"' for part in field.split("."))
    if tag_type == "category":
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) == 1:
            return f"{column} = {literal(values[0], 'text')}"
        return f"{column} in ({', '.join(literal(v, 'text') for v in values)})"
    if tag_type == "date_range":
        start, end = date_range(str(value), today or dt.date.today())
        parts = ([f"{column} >= {literal(start, 'date')}"] if start else []) + (
            [f"{column} < {literal(end, 'date')}"] if end else []
        )
        return "(" + " and ".join(parts) + ")" if parts else "true"
    raise TemplateError(f"{tag_type!r} is not a field filter type")


def literal(value: Any, tag_type: str) -> str:
    """The SQL literal Metabase puts in place of a tag's value (Postgres)."""
    if tag_type == "text":
        return "'" + str(value).replace("'", "''") + "'"
    if tag_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TemplateError(f"number tag needs a number, got {value!r}")
        return repr(value)
    if tag_type == "date":
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return f"date '{day.isoformat()}'"
    raise TemplateError(f"unknown tag type {tag_type!r}")


def render(
    sql: str,
    values: Mapping[str, Any],
    types: Mapping[str, str],
    fields: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> str:
    """Substitute `values` (None = not set) into `sql` the way Metabase does; return runnable SQL.
    `fields`: the column of each field-filter tag (`schema.table.column`); `today`: the day relative
    date ranges are evaluated on (Metabase's clock: today)."""
    check_syntax(sql)
    fields = fields or {}

    def substitute(fragment: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in types:
                raise TemplateError(f"tag {{{{{name}}}}} has no declared type")
            if types[name] in FIELD_FILTER_TYPES:
                if not fields.get(name):
                    raise TemplateError(f"field filter {{{{{name}}}}} has no field")
                return condition(fields[name], values[name], types[name], today)
            return literal(values[name], types[name])

        return TAG_RE.sub(one, fragment)

    missing = sorted(name for name in required_tags(sql) if values.get(name) is None)
    if missing:
        raise TemplateError(f"required template tags without a value: {missing}")
    # one pass over the text, so a value that happens to contain `{{x}}` or `[[` is never re-read
    out: list[str] = []
    pos = 0
    for match in OPTIONAL_RE.finditer(sql):
        out.append(substitute(sql[pos : match.start()]))
        body = match.group(1)
        if all(values.get(name) is not None for name in tags_in(body)):
            out.append(substitute(body))
        pos = match.end()
    out.append(substitute(sql[pos:]))
    return "".join(out)
