"""The one definition of a valid tracked event, used by the collector (Python) and the loader (SQL).

Why one module: the collector's 200 promises that the loader will load the event, so both must apply
the same rules, in the same order, with the same reasons. The loader cannot afford Python per line on
its hot path (docs/events.md), so each field rule is written here twice, as Python (`event_reason`)
and as SQL (`SQL_REASON`), side by side and in the same order; tests/events/test_edge_corpus.py runs a
corpus of edge cases through the real collector and the real loader and asserts they agree line by
line, alone and mixed with the other lines. The checks of the JSON text itself (`parse_json`,
`structure_reason`) are Python only: the collector runs them on every request, the loader on every
line of a file that Postgres could not COPY as it is (or that may be nested too deep).

What a valid line is, first broken rule = the reason:
1. JSON text: UTF-8; JSON (RFC 8259, as orjson and Postgres read it); numbers within the range of
   Postgres `numeric`, kept with all their digits (never rounded through a double); nested at most
   MAX_DEPTH levels; no NUL (`\\u0000`, which Postgres text cannot hold) and no lone UTF-16 surrogate
   in any string or key. The 6 characters `\\u0000` as text (JSON `"\\\\u0000"`) are fine.
2. a JSON object with messageId, type, event, anonymousId/userId of the right types;
3. `timestamp` (and `sentAt` when present) an ISO-8601 date-time of the grammar TIMESTAMP_PATTERN:
   `YYYY-MM-DD[T ]hh:mm:ss[.f{1,9}][Z|±hh[[:]mm]]`, offset at most ±15:59 (Postgres' limit), no ISO week
   dates, no comma fractions, no hour 24 or second 60; naive = UTC;
4. properties (or, when absent, traits) and context objects or null (null = empty); revenue a number;
5. the timestamp inside a sane window: not before MIN_TIMESTAMP, not more than MAX_FUTURE after the
   collector's receipt (receivedAt) or the client's sentAt.
Transport limits (payload and event size) are the collector's alone: a limit on a request, not a rule
for a stored line.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

TYPES = ("page", "track", "identify")
MAX_MESSAGE_ID = 200
MAX_DEPTH = 64  # the event object is level 1; real events nest 4-5 levels
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(hours=24)
# Postgres numeric: at most 131072 digits before the decimal point and 16383 after it
_NUMERIC_INT_DIGITS = 131072
_NUMERIC_SCALE = 16383

# reasons (the same strings in Python and SQL)
INVALID_UTF8 = "invalid UTF-8"
MALFORMED = "malformed JSON"  # + ": <parser message>"
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
HAS_NUL = "contains NUL (\\u0000), which Postgres text cannot hold"
HAS_SURROGATE = "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which Postgres rejects"
NUMBER_RANGE = "number outside the range of Postgres numeric"
NOT_OBJECT = "not a JSON object"
EMPTY_LINE = "empty line"
MESSAGE_ID = "messageId missing or not a non-empty string"
MESSAGE_ID_LONG = f"messageId longer than {MAX_MESSAGE_ID} characters"
TYPE_MISSING = "type missing or not a string"
TYPE_VALUE = "type must be page, track or identify"
EVENT_NAME = "event not a string"
TRACK_NAME = "track event without event name"
ANONYMOUS_ID = "anonymousId not a string"
USER_ID = "userId not a string"
IDENTITY = "anonymousId or userId required"
TIMESTAMP = "timestamp missing or not an ISO-8601 string"
RECEIVED_AT = "receivedAt missing or not an ISO-8601 string"
SENT_AT = "sentAt not an ISO-8601 string"
PROPERTIES = "properties not an object"
CONTEXT = "context not an object"
REVENUE = "properties.revenue not a number"
TOO_OLD = f"timestamp before {MIN_TIMESTAMP:%Y-%m-%d}"
TOO_NEW = f"timestamp more than {MAX_FUTURE.total_seconds() / 3600:g}h in the future (clock skew)"

# -- timestamps ---------------------------------------------------------------------------------
TIMESTAMP_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)?"
)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
# What trackers send (JavaScript's toISOString). In SQL this shape is tested with a LIKE, ~20x cheaper
# than the regex, which only runs for the other shapes.
_CANONICAL_LIKE = "____-__-__T__:__:__.___Z"


def parse_timestamp(value: Any) -> datetime | None:
    """`value` as an aware datetime when it is a string of the grammar and a real instant, else None."""
    if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:  # a date that does not exist (2025-02-30)
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def sql_timestamp(expr: str, strict: bool) -> str:
    """SQL: `expr` as timestamptz when it is of the grammar, else NULL (the twin of `parse_timestamp`).

    The canonical shape is tested with LIKE (positions and separators, ~0.1 µs) and the two values
    Postgres takes but the grammar does not (hour 24, second 60); the cast does the rest. Other shapes
    pay for the regex (~2 µs). Measured and not done: proving every digit position a digit
    (`translate`, ~1 µs per timestamp, ~8 % of the loader). Postgres' parser reads some punctuation
    and letters in a digit position as separators or zone names ('2025-01-02T10:00:0A.000Z'), so such
    a canonical-shaped junk value, which the collector refuses, loads if another writer lands it: the
    collector's 200 still means "loads", and tests/events/fixtures/edge_corpus.jsonl pins the case.
    A well-shaped but impossible date (month 13) makes the cast raise: the loader runs the fast variant
    first and falls back to `strict`, which adds `pg_input_is_valid`, so only that row is rejected.
    """
    shape = (
        f"case when {expr} like '{_CANONICAL_LIKE}' "
        f"then {expr} not like '___________24%' and {expr} not like '_________________60%' "
        f"else {expr} ~ '^{TIMESTAMP_PATTERN}$' end"
    )
    if strict:
        shape += f" and pg_input_is_valid({expr}, 'timestamptz')"
    return f"case when {shape} then ({expr})::timestamptz end"


# -- JSON text ----------------------------------------------------------------------------------
_INEXACT_NUMBER = rb"(?:^|[:,\[])[ \t\r\n]*-?(?:[0-9][0-9.]{15}|[0-9.]+[eE][+-]?[0-9]{3})"
# A number orjson would round through a double (16+ digits) or could not hold (3-digit exponent):
# such a text is parsed exactly instead. A number follows `:`, `,` or `[`, so ids and hex digits inside
# strings ("9e100" in a UUID) rarely send a text down the slower exact path.
_INEXACT = re.compile(_INEXACT_NUMBER)
# What only a walk over the parsed strings and numbers can judge: escapes that may decode to NUL or
# to a surrogate, and numbers parsed exactly (one may be out of range)
_WALK = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|" + _INEXACT_NUMBER)
_NOT_OPENER = bytes(b for b in range(256) if b not in b"{[")
_NOT_OPENER_OR_NEWLINE = bytes(b for b in range(256) if b not in b"{[\n")
_DEEP_LINE = re.compile(rb"[^\n]{%d}" % (MAX_DEPTH + 1))


class OutOfRangeNumber:
    """A number Postgres' numeric cannot hold, kept in the parsed value so that the one event holding
    it is refused (NUMBER_RANGE), not the whole request."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _NotJson(ValueError):
    pass


def _exact_int(text: str) -> int | orjson.Fragment | OutOfRangeNumber:
    if len(text) <= 18:
        return int(text)
    if len(text.lstrip("-")) > _NUMERIC_INT_DIGITS:
        return OutOfRangeNumber(text)
    return orjson.Fragment(text)  # written back verbatim by orjson.dumps


def _exact_float(text: str) -> orjson.Fragment | OutOfRangeNumber:
    number = Decimal(text)
    exponent = number.as_tuple().exponent
    if number.adjusted() >= _NUMERIC_INT_DIGITS or (isinstance(exponent, int) and -exponent > _NUMERIC_SCALE):
        return OutOfRangeNumber(text)
    return orjson.Fragment(text)


def _no_constant(text: str) -> None:
    raise _NotJson(f"{text} is not JSON")


def _text_reason(raw: bytes, message: str) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8
    return f"{MALFORMED}: {message}"


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    """(value, None) for JSON text, else (None, reason). Numbers keep all their digits.

    orjson parses (fast) unless the text holds a number it would round (`123456789012345678901234567890`
    would become 1.2345678901234568e29); then the standard library parses it with hooks that keep
    such numbers as `orjson.Fragment`s (their exact text, written back as is) and mark numbers
    Postgres' `numeric` cannot hold (`structure_reason` refuses them). Integers up to 18 digits stay
    Python ints. The reasons here are about the text as a whole: not UTF-8, not JSON.
    """
    if _INEXACT.search(raw) is None:
        try:
            return orjson.loads(raw), None
        except orjson.JSONDecodeError as exc:
            return None, _text_reason(raw, str(exc))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, INVALID_UTF8
    try:
        value = json.loads(text, parse_int=_exact_int, parse_float=_exact_float, parse_constant=_no_constant)
    except RecursionError:
        return None, f"{MALFORMED}: nested too deep to parse"
    except ValueError as exc:  # json.JSONDecodeError and _NotJson
        return None, f"{MALFORMED}: {exc}"
    return value, None


def is_number(value: Any) -> bool:
    """A JSON number as parsed by `parse_json` (bool is not one)."""
    return isinstance(value, int | float | orjson.Fragment | OutOfRangeNumber) and not isinstance(value, bool)


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _scalar_reason(value: Any) -> str | None:
    """A NUL or lone surrogate in a string or key, or a number out of range, else None."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return HAS_NUL
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return HAS_SURROGATE
        elif isinstance(node, OutOfRangeNumber):
            return NUMBER_RANGE
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def structure_reason(value: Any, raw: bytes | None) -> str | None:
    """Too deep, a NUL, a lone surrogate or an out-of-range number in `value`, else None. `raw` is its
    JSON text (None when unknown): when that text has at most MAX_DEPTH `{`/`[`, no `\\u0000`/`\\ud8..`
    escape and no long number, no walk is needed, which is the case for nearly every event."""
    maybe_deep = raw is None or len(raw.translate(None, _NOT_OPENER)) > MAX_DEPTH
    if isinstance(value, dict | list) and maybe_deep and _too_deep(value):
        return TOO_DEEP
    if raw is None or _WALK.search(raw) is not None:
        return _scalar_reason(value)
    return None


def dumps_for_quarantine(value: Any) -> bytes:
    """JSON of a refused value for the quarantine file; what orjson cannot write becomes a note."""
    try:
        return orjson.dumps(value, default=lambda o: o.text if isinstance(o, OutOfRangeNumber) else repr(o))
    except orjson.JSONEncodeError as exc:
        return f"<not kept: {exc}>".encode()


def line_reason(line: bytes) -> str | None:
    """Why one landing line cannot be stored as JSON (the loader's per-line path), else None."""
    value, reason = parse_json(line)
    return reason or structure_reason(value, line)


def may_hold_deep_lines(data: bytes) -> bool:
    """True when some line of `data` has more than MAX_DEPTH `{`/`[`: only such a line can be too
    deep, so the loader checks those files line by line. One C-speed pass (~0.4 µs per line)."""
    return _DEEP_LINE.search(data.translate(None, _NOT_OPENER_OR_NEWLINE)) is not None


# -- field rules --------------------------------------------------------------------------------
def event_reason(event: Any, received_at: datetime) -> str | None:
    """The first field rule `event` breaks, or None. The twin of SQL_REASON: same order, same reasons
    (the loader also checks the landed `receivedAt`, which the collector sets itself)."""
    if not isinstance(event, dict):
        return NOT_OBJECT
    mid = event.get("messageId")
    if not isinstance(mid, str) or not mid:
        return MESSAGE_ID
    if len(mid) > MAX_MESSAGE_ID:
        return MESSAGE_ID_LONG
    kind = event.get("type")
    if not isinstance(kind, str):
        return TYPE_MISSING
    if kind not in TYPES:
        return TYPE_VALUE
    name = event.get("event")
    if name is not None and not isinstance(name, str):
        return EVENT_NAME
    if kind == "track" and not name:
        return TRACK_NAME
    anon, uid = event.get("anonymousId"), event.get("userId")
    if anon is not None and not isinstance(anon, str):
        return ANONYMOUS_ID
    if uid is not None and not (isinstance(uid, str) or is_number(uid)):
        return USER_ID
    if not anon and (uid is None or uid == ""):
        return IDENTITY
    ts = parse_timestamp(event.get("timestamp"))
    if ts is None:
        return TIMESTAMP
    sent_at = None
    if event.get("sentAt") is not None:
        sent_at = parse_timestamp(event["sentAt"])
        if sent_at is None:
            return SENT_AT
    props = event["properties"] if "properties" in event else event.get("traits")
    if props is not None and not isinstance(props, dict):
        return PROPERTIES
    if event.get("context") is not None and not isinstance(event["context"], dict):
        return CONTEXT
    revenue = props.get("revenue") if props else None
    if revenue is not None and not is_number(revenue):
        return REVENUE
    if ts < MIN_TIMESTAMP:
        return TOO_OLD
    if ts > received_at + MAX_FUTURE or (sent_at is not None and ts > sent_at + MAX_FUTURE):
        return TOO_NEW
    return None


def _sql_in(col: str, *types: str) -> str:
    allowed = ", ".join(f"'{t}'" for t in types)
    return f"coalesce({col}, 'null') in ({allowed})"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# SQL: the first broken rule, or NULL for a valid event. Columns (ingestion/events/load/sql.py `_rows`):
# j (the line), t_j/t_mid/t_type/t_event/t_anon/t_uid/t_ts/t_sent/t_rcv (jsonb_typeof of the line and
# its fields), mid/typ/ev/anon/uid/sent_t (their text), ts/sent/rcv (`sql_timestamp` of them),
# p (properties, else traits; JSON null = NULL), c (context; JSON null = NULL).
SQL_REASON = f"""case
    when j is null then {_lit(EMPTY_LINE)}
    when t_j <> 'object' then {_lit(NOT_OBJECT)}
    when t_mid is distinct from 'string' or mid = '' then {_lit(MESSAGE_ID)}
    when length(mid) > {MAX_MESSAGE_ID} then {_lit(MESSAGE_ID_LONG)}
    when t_type is distinct from 'string' then {_lit(TYPE_MISSING)}
    when typ not in ({", ".join(_lit(t) for t in TYPES)}) then {_lit(TYPE_VALUE)}
    when not {_sql_in("t_event", "string", "null")} then {_lit(EVENT_NAME)}
    when typ = 'track' and coalesce(ev, '') = '' then {_lit(TRACK_NAME)}
    when not {_sql_in("t_anon", "string", "null")} then {_lit(ANONYMOUS_ID)}
    when not {_sql_in("t_uid", "string", "number", "null")} then {_lit(USER_ID)}
    when coalesce(anon, '') = '' and coalesce(uid, '') = '' then {_lit(IDENTITY)}
    when t_ts is distinct from 'string' or ts is null then {_lit(TIMESTAMP)}
    when t_rcv is distinct from 'string' or rcv is null then {_lit(RECEIVED_AT)}
    when not {_sql_in("t_sent", "string", "null")} or (sent_t is not null and sent is null)
        then {_lit(SENT_AT)}
    when not {_sql_in("jsonb_typeof(p)", "object")} and p is not null then {_lit(PROPERTIES)}
    when not {_sql_in("jsonb_typeof(c)", "object")} and c is not null then {_lit(CONTEXT)}
    when not {_sql_in("jsonb_typeof(p->'revenue')", "number", "null")} then {_lit(REVENUE)}
    when ts < {_lit(MIN_TIMESTAMP.isoformat())}::timestamptz then {_lit(TOO_OLD)}
    when ts > rcv + interval '{int(MAX_FUTURE.total_seconds())} seconds'
        or ts > sent + interval '{int(MAX_FUTURE.total_seconds())} seconds' then {_lit(TOO_NEW)}
end"""
