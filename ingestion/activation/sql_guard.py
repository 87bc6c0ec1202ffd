"""The guard every segment's SQL passes before it is shown, saved or counted.

A segment is ONE read-only SELECT over the reporter's schemas (`marts`, `ml`) returning a `customer_id`
per member. The reporter role already cannot write or read raw PII, so the guard is the second line:
it turns a query the database would refuse (or run for a long time) into a reason a marketer can read,
and it stops what the role *could* do but a segment never should (sleep, read server files, set
session state, lock rows). It parses with sqlglot (postgres dialect) and checks the tree, never the
text, so comments, quoting or odd spacing do not hide anything; the SQL it returns is regenerated from
that same checked tree, so what runs is what was checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify

DIALECT = "postgres"
SEGMENT_SCHEMAS = ("marts", "ml")
STATEMENT_TIMEOUT_MS = 30_000

# statements and clauses that write, change the session, or lock: refused wherever they appear
# (a data-modifying CTE is a DELETE inside a SELECT)
_FORBIDDEN_NODES: dict[str, str] = {
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Merge": "MERGE",
    "Create": "CREATE",
    "Drop": "DROP",
    "Alter": "ALTER",
    "AlterTable": "ALTER",
    "TruncateTable": "TRUNCATE",
    "Grant": "GRANT",
    "Revoke": "REVOKE",
    "Copy": "COPY",
    "Set": "SET",
    "SetItem": "SET",
    "Command": "a command",
    "Transaction": "a transaction statement",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "Use": "USE",
    "LoadData": "LOAD",
    "Pragma": "PRAGMA",
    "Describe": "DESCRIBE",
    "Kill": "KILL",
    "Analyze": "ANALYZE",
    "Comment": "COMMENT",
    "Into": "SELECT ... INTO (it creates a table)",
    "Lock": "a locking clause (FOR UPDATE / FOR SHARE)",
}
# a segment runs on its own every night: nothing may be left for a caller to fill in
PARAMETER_NODES = tuple(
    getattr(exp, n) for n in ("Placeholder", "Parameter", "SessionParameter") if hasattr(exp, n)
)
FORBIDDEN_NODES: tuple[tuple[type[exp.Expression], str], ...] = tuple(
    (getattr(exp, name), what) for name, what in _FORBIDDEN_NODES.items() if hasattr(exp, name)
)

# Functions sqlglot does not model come back as `exp.Anonymous`: Postgres' admin and I/O functions
# (pg_sleep, pg_read_file, lo_import, dblink, set_config, query_to_xml, ...) are all among them, so an
# anonymous one must be on this allow-list of plain scalar, aggregate and window functions. Those sqlglot
# types (count, coalesce, date_trunc, ntile, ...) are its vocabulary of standard pure functions.
_ALLOWED = """
    abs age array_agg array_length avg bool_and bool_or btrim cardinality ceil ceiling coalesce concat
    concat_ws corr count cume_dist current_date date date_part date_trunc dense_rank every extract
    first_value floor greatest initcap justify_days lag last_value lead least left length lower lpad
    ltrim make_date make_interval max min mod mode nth_value ntile nullif percent_rank percentile_cont
    percentile_disc position rank regexp_match regexp_replace replace reverse right round row_number
    rpad rtrim sign split_part stddev stddev_pop stddev_samp string_agg strpos substr substring sum
    to_char to_date to_number to_timestamp trim trunc upper var_pop var_samp variance width_bucket
"""
ALLOWED_FUNCTIONS = frozenset(_ALLOWED.split())
# belt and braces: refused even if a future sqlglot types one of them
DENIED_FUNCTION = re.compile(
    r"^(pg_|lo_|dblink|set_config|current_setting|query_to_xml|table_to_xml|cursor_to_xml|"
    r"database_to_xml|schema_to_xml|nextval|setval|currval|txid_|xmlparse|copy|version$)",
    re.IGNORECASE,
)


class UnsafeSegmentSQL(ValueError):
    """The SQL is not a segment the guard lets through; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Catalog:
    """What the reporter may read: `"schema.table" -> {column: description}` (descriptions are the dbt
    docs the marts carry as Postgres comments; '' when a column has none). `table_descriptions` and
    `types` are optional extras for the LLM prompt."""

    tables: dict[str, dict[str, str]]
    table_descriptions: dict[str, str] = field(default_factory=dict)
    types: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # keys lower-cased once: Postgres folds unquoted identifiers, and so does the check
        object.__setattr__(
            self,
            "tables",
            {k.lower(): {c.lower(): d for c, d in cols.items()} for k, cols in self.tables.items()},
        )

    def has_table(self, qualified: str) -> bool:
        return qualified.lower() in self.tables

    def columns(self, qualified: str) -> dict[str, str]:
        return self.tables.get(qualified.lower(), {})

    def sqlglot_schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """`{schema: {table: {column: type}}}` for sqlglot's qualifier (it needs names, not types)."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for qualified, cols in self.tables.items():
            schema, _, table = qualified.partition(".")
            out.setdefault(schema, {})[table] = {c: "text" for c in cols}
        return out


CATALOG_SQL = """
select c.table_schema, c.table_name, c.column_name, c.data_type,
       col_description((quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass,
                       c.ordinal_position::int) as column_description,
       obj_description((quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass,
                       'pg_class') as table_description
from information_schema.columns as c
where c.table_schema = any(%s)
order by c.table_schema, c.table_name, c.ordinal_position
"""


def catalog_from_warehouse(conn: psycopg.Connection, schemas: Iterable[str] = SEGMENT_SCHEMAS) -> Catalog:
    """The tables and columns `conn`'s role can see in `schemas`, with their comments.

    Call it on a connection opened as the reporter: information_schema only lists what the role may
    read, so the catalog (and thus the guard) never admits a column the segment could not select."""
    tables: dict[str, dict[str, str]] = {}
    types: dict[str, dict[str, str]] = {}
    table_descriptions: dict[str, str] = {}
    with conn.transaction():
        rows = conn.execute(CATALOG_SQL, (list(schemas),)).fetchall()
    for schema, table, column, data_type, column_description, table_description in rows:
        key = f"{schema}.{table}"
        tables.setdefault(key, {})[column] = " ".join((column_description or "").split())
        types.setdefault(key, {})[column] = data_type
        if table_description:
            table_descriptions[key] = " ".join(table_description.split())
    return Catalog(tables=tables, table_descriptions=table_descriptions, types=types)


def _parse_one(sql: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except ParseError as exc:
        errors = getattr(exc, "errors", None) or [{}]
        where = (errors[0].get("description") or str(exc).splitlines()[0]).split(" but got ")[0]
        raise UnsafeSegmentSQL(f"this is not SQL the guard can read ({where})") from exc
    if not statements:
        raise UnsafeSegmentSQL("the SQL is empty")
    if len(statements) > 1:
        raise UnsafeSegmentSQL(
            f"a segment is one SELECT; this SQL holds {len(statements)} statements (separated by ';')"
        )
    return statements[0]


def _check_statements(tree: exp.Expression) -> None:
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        what = "a command" if isinstance(tree, exp.Command) else f"a {tree.key.upper()} statement"
        raise UnsafeSegmentSQL(
            f"a segment is a SELECT (WITH ... SELECT and UNION of SELECTs are fine); this is {what}"
        )
    for node in tree.walk():
        for kind, what in FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise UnsafeSegmentSQL(f"the SQL contains {what}: a segment only reads")
        if isinstance(node, PARAMETER_NODES):
            raise UnsafeSegmentSQL(
                f"the SQL has a parameter ({node.sql(DIALECT)}): a segment must be complete on its own"
            )


def _check_functions(tree: exp.Expression) -> None:
    for func in tree.find_all(exp.Func):
        name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
        if isinstance(func.parent, exp.Dot):
            raise UnsafeSegmentSQL(
                f"schema-qualified function calls ({func.parent.sql(DIALECT)}) are not allowed"
            )
        if DENIED_FUNCTION.match(name) or (isinstance(func, exp.Anonymous) and name not in ALLOWED_FUNCTIONS):
            raise UnsafeSegmentSQL(
                f"the function {name}() is not allowed in a segment (only plain scalar, aggregate and "
                f"window functions are)"
            )


def _check_tables(tree: exp.Expression, catalog: Catalog) -> None:
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise UnsafeSegmentSQL(
                f"a segment reads tables, not set-returning functions ({table.this.sql(DIALECT)})"
            )
        name, schema = table.name.lower(), table.db.lower()
        if table.catalog:
            raise UnsafeSegmentSQL(f"{table.sql(DIALECT)}: name tables as schema.table, without a database")
        if not schema:
            if name in cte_names:
                continue
            known = [f"{sch}.{name}" for sch in SEGMENT_SCHEMAS if catalog.has_table(f"{sch}.{name}")]
            hint = f"write it as {' or '.join(known)}" if known else "name it as marts.<table> or ml.<table>"
            raise UnsafeSegmentSQL(
                f"the table {name!r} has no schema: {hint} (segments read the "
                f"{' and '.join(SEGMENT_SCHEMAS)} schemas only)"
            )
        if schema not in SEGMENT_SCHEMAS:
            raise UnsafeSegmentSQL(
                f"{schema}.{name} is outside the segment schemas ({', '.join(SEGMENT_SCHEMAS)}): segments "
                "never read raw or system tables"
            )
        if not catalog.has_table(f"{schema}.{name}"):
            raise UnsafeSegmentSQL(f"there is no table {schema}.{name} the reporter can read")


def _check_columns(tree: exp.Expression, catalog: Catalog) -> exp.Expression:
    try:
        qualified = qualify(
            tree.copy(), schema=catalog.sqlglot_schema(), dialect=DIALECT, validate_qualify_columns=True
        )
    except OptimizeError as exc:
        message = str(exc).split(". Line:")[0]
        match = re.search(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)", message)
        if match:
            column = match.group(1) or match.group(2)
            raise UnsafeSegmentSQL(
                f"the column {column!r} is not in the tables this SQL reads (or is ambiguous: prefix "
                "it with its table's alias)"
            ) from exc
        raise UnsafeSegmentSQL(f"the SQL's columns could not be checked: {message}") from exc
    except SqlglotError as exc:
        raise UnsafeSegmentSQL(f"the SQL's columns could not be checked: {exc}") from exc
    return qualified


def validate_segment_sql(sql: str, catalog: Catalog) -> str:
    """The SQL, normalized (regenerated by sqlglot from the checked tree), or `UnsafeSegmentSQL`."""
    tree = _parse_one(sql)
    _check_statements(tree)
    _check_functions(tree)
    _check_tables(tree, catalog)
    qualified = _check_columns(tree, catalog)
    outputs = [n.lower() for n in qualified.named_selects]
    if "customer_id" not in outputs:
        raise UnsafeSegmentSQL(
            "the SELECT must return a column named customer_id (one row per member); it returns "
            f"{', '.join(outputs) or 'nothing named'}"
        )
    return tree.sql(dialect=DIALECT, pretty=True, comments=False)


def segment_size(conn: psycopg.Connection, sql: str, timeout_ms: int = STATEMENT_TIMEOUT_MS) -> int:
    """Members of a segment: `count(distinct customer_id)` in a READ ONLY transaction with a statement
    timeout, so even a query that slipped past the guard cannot write or hold the warehouse.

    `sql` must already be validated. The connection must not be inside a transaction (the read-only
    mode is set when the transaction begins and must not leak into the caller's)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("segment_size needs a connection that is not inside a transaction")
    saved = conn.read_only
    conn.read_only = True
    try:
        with conn.transaction():
            conn.execute(f"set local statement_timeout = {int(timeout_ms)}")
            row = conn.execute(f"select count(distinct customer_id) from (\n{sql}\n) as segment").fetchone()
    finally:
        conn.read_only = saved
    return int(row[0]) if row else 0
