"""Metabase native-query templating: `{{tag}}` variables and `[[ optional clauses ]]`.

Metabase substitutes a card's template tags itself; we reimplement the same rules here so that the
tests can run every card's SQL against the warehouse exactly as Metabase would send it (with and
without the optional filters), and so that definitions are validated before anything reaches Metabase:
a tag outside an optional clause is required, an optional clause is dropped unless every tag in it
has a value, text values become quoted string literals, dates `date 'YYYY-MM-DD'` literals.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

TAG_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OPTIONAL_RE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
UNSUPPORTED_RE = re.compile(r"\{\{\s*(#|snippet:)")

TAG_TYPES = ("text", "number", "date")


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


def render(sql: str, values: Mapping[str, Any], types: Mapping[str, str]) -> str:
    """Substitute `values` (None = not set) into `sql` the way Metabase does; return runnable SQL."""
    check_syntax(sql)

    def substitute(fragment: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in types:
                raise TemplateError(f"tag {{{{{name}}}}} has no declared type")
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
