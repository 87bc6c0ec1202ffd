"""Dashboards as code: the YAML schema (pydantic) and its loader.

One YAML file per dashboard in `dashboards/definitions/`. A dashboard has filters (`parameters`) and
cards; each card is a native SQL question with a Metabase `display` and `visualization_settings`.
Every `{{tag}}` in a card's SQL names a dashboard parameter of the same key, which is how filters are
wired (the provisioner turns that into template tags and parameter mappings), so a typo in a tag or a
filter that no card uses is a validation error here, not a silently dead filter in Metabase.

Two kinds of filters:
- variables (`text`, `date`, `number`): the card writes the comparison, `[[and channel = {{channel}}]]`;
- field filters (`category`: a dropdown of a column's values; `date_range`: Metabase's date picker with
  relative ranges such as `past30days`, `thismonth`, or `2025-01-01~2025-03-31`): the parameter names
  the column(s) it filters (`fields: [marts.fct_orders.order_date, ...]`, one per table it applies to)
  and the card writes only the tag, `[[and {{period}}]]`; Metabase substitutes `column <condition>`.
  The card must read that table without an alias (Metabase qualifies the column with the table name).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dashboards import native_sql

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
GRID_WIDTH = 24  # Metabase's dashboard grid (>= 0.47)
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"

GRAPH_DISPLAYS = ("line", "bar", "area", "combo", "row", "scatter")
# smartscalar: Metabase's "Trend" (the latest period's number and its change against the one before)
Display = Literal[
    "line", "bar", "area", "combo", "row", "scatter", "pie", "funnel", "scalar", "smartscalar", "table"
]
ParameterType = Literal["text", "date", "number", "date_range", "category"]
FIELD_FILTER_TYPES = ("date_range", "category")
FIELD_PATTERN = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"

# Warehouse schemas a card may read: the ones the read-only `reporter` role can see (of `activation`
# only `sync_runs`, which holds counts: ingestion/activation/store.py).
READABLE_SCHEMAS = ("marts", "ml", "insights", "activation")
FORBIDDEN_SCHEMAS = (
    "shopify",
    "meta_ads",
    "google_ads",
    "ga4",
    "events",
    "staging",
    "intermediate",
    "public",
)
_FROM_RE = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Layout(_Strict):
    """Position on Metabase's 24-column grid."""

    row: int = Field(ge=0)
    col: int = Field(ge=0, lt=GRID_WIDTH)
    size_x: int = Field(ge=1, le=GRID_WIDTH)
    size_y: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Layout:
        if self.col + self.size_x > GRID_WIDTH:
            raise ValueError(f"card overflows the {GRID_WIDTH}-column grid (col {self.col} + {self.size_x})")
        return self

    def cells(self) -> set[tuple[int, int]]:
        return {
            (r, c)
            for r in range(self.row, self.row + self.size_y)
            for c in range(self.col, self.col + self.size_x)
        }


class Parameter(_Strict):
    """A dashboard filter; cards use it as `{{key}}` (usually inside `[[ ... ]]`)."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    type: ParameterType = "text"
    default: str | None = None
    values: list[str] | None = None  # a fixed dropdown list (e.g. attribution models)
    required: bool = False
    # field filters: the column each card filters, `schema.table.column` (one per table)
    fields: list[str] = Field(default_factory=list)

    @property
    def is_field_filter(self) -> bool:
        return self.type in FIELD_FILTER_TYPES

    def field_for(self, tables: list[tuple[str, str]]) -> str | None:
        """The one field of this filter on a table among `tables` (a card's), else None."""
        found = [f for f in self.fields if tuple(f.split(".")[:2]) in tables]
        return found[0] if len(found) == 1 else None

    @model_validator(mode="after")
    def _default_when_required(self) -> Parameter:
        if self.is_field_filter and not self.fields:
            raise ValueError(
                f"parameter {self.key!r}: a {self.type} filter needs `fields` (schema.table.column)"
            )
        if not self.is_field_filter and self.fields:
            raise ValueError(f"parameter {self.key!r}: only date_range and category filters take `fields`")
        bad = [f for f in self.fields if not re.match(FIELD_PATTERN, f)]
        if bad:
            raise ValueError(f"parameter {self.key!r}: fields must be schema.table.column, got {bad}")
        tables = [tuple(f.split(".")[:2]) for f in self.fields]
        if len(set(tables)) != len(tables):
            raise ValueError(f"parameter {self.key!r}: one field per table")
        if self.required and self.default is None:
            raise ValueError(f"parameter {self.key!r} is required and needs a default")
        if self.values is not None and self.default is not None and self.default not in self.values:
            raise ValueError(f"parameter {self.key!r}: default {self.default!r} is not one of its values")
        return self


class Card(_Strict):
    """A native SQL question on marts/ml/insights, placed on the dashboard."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    description: str = ""
    display: Display
    sql: str
    visualization_settings: dict[str, Any] = Field(default_factory=dict)
    layout: Layout

    @field_validator("description")
    @classmethod
    def _strip_description(cls, text: str) -> str:
        return text.strip()

    @field_validator("sql")
    @classmethod
    def _sql_syntax(cls, sql: str) -> str:
        native_sql.check_syntax(sql)
        for schema, table in _FROM_RE.findall(sql):
            if schema.lower() in FORBIDDEN_SCHEMAS:
                raise ValueError(f"{schema}.{table}: cards may only read {', '.join(READABLE_SCHEMAS)}")
        return sql.strip() + "\n"

    @model_validator(mode="after")
    def _settings_match_display(self) -> Card:
        required_columns(self)  # raises when the display's mandatory settings are missing
        return self

    @property
    def tags(self) -> list[str]:
        return native_sql.tags_in(self.sql)

    def tables(self) -> list[tuple[str, str]]:
        """(schema, table) pairs the SQL reads, in order of appearance."""
        seen: dict[tuple[str, str], None] = {}
        for schema, table in _FROM_RE.findall(self.sql):
            if schema.lower() in READABLE_SCHEMAS:  # `from alias.column` (e.g. in extract) is not a table
                seen.setdefault((schema.lower(), table.lower()), None)
        return list(seen)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"expected a column name or a list of them, got {value!r}")


def required_columns(card: Card) -> list[str]:
    """Result columns the card's visualization needs, read from its settings (raises if they are missing)."""
    vs = card.visualization_settings

    def need(*keys: str) -> list[str]:
        out: list[str] = []
        for key in keys:
            if key not in vs:
                raise ValueError(
                    f"card {card.key!r}: display {card.display!r} needs visualization_settings.{key}"
                )
            out += _names(vs[key])
        return out

    if card.display in GRAPH_DISPLAYS:
        return need("graph.dimensions", "graph.metrics")
    if card.display == "pie":
        return need("pie.dimension", "pie.metric")
    if card.display == "funnel":
        return need("funnel.dimension", "funnel.metric")
    if card.display == "scalar":
        return need("scalar.field")
    if card.display == "smartscalar":  # the period column (sorted, one row per period) and the number
        return need("graph.dimensions", "scalar.field")
    # table: explicit column list (order and visibility), plus the pivot settings when pivoted
    columns = vs.get("table.columns")
    if not isinstance(columns, list) or not columns:
        raise ValueError(f"card {card.key!r}: a table needs visualization_settings['table.columns']")
    names = [c["name"] for c in columns if isinstance(c, dict) and "name" in c]
    if len(names) != len(columns):
        raise ValueError(f"card {card.key!r}: every table.columns entry needs a name")
    if vs.get("table.pivot"):
        names += need("table.pivot_column", "table.cell_column")
    return list(dict.fromkeys(names))


class Owner(_Strict):
    """Who answers for the dashboard (dbt exposure owner)."""

    name: str = "Analytics team"
    email: str = "analytics@example.com"


class Dashboard(_Strict):
    """One Metabase dashboard: filters, cards and their layout; also a dbt exposure."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    description: str = ""
    collection: str = "Customer Journey"
    owner: Owner = Field(default_factory=Owner)
    parameters: list[Parameter] = Field(default_factory=list)
    cards: list[Card] = Field(min_length=1)

    @field_validator("description")
    @classmethod
    def _strip_description(cls, text: str) -> str:
        return text.strip()

    @model_validator(mode="after")
    def _consistent(self) -> Dashboard:
        _unique("parameter", [p.key for p in self.parameters])
        _unique("card", [c.key for c in self.cards])
        params = {p.key: p for p in self.parameters}
        used: set[str] = set()
        for card in self.cards:
            unknown = [t for t in card.tags if t not in params]
            if unknown:
                raise ValueError(f"card {card.key!r} uses {unknown}, which are not dashboard parameters")
            for tag in card.tags:
                param = params[tag]
                if param.is_field_filter:
                    if param.field_for(card.tables()) is None:
                        raise ValueError(
                            f"card {card.key!r}: filter {tag!r} has no field on the tables it reads "
                            f"({', '.join('.'.join(t) for t in card.tables())}); its fields: {param.fields}"
                        )
                    if native_sql.compared(card.sql, tag):
                        raise ValueError(
                            f"card {card.key!r}: {{{{{tag}}}}} is a field filter: write `[[and {{{{{tag}}}}}]]`, "
                            "Metabase substitutes the column and the condition"
                        )
            for tag in native_sql.required_tags(card.sql):
                if params[tag].default is None:
                    raise ValueError(
                        f"card {card.key!r} needs {{{{{tag}}}}} outside [[ ]], so that parameter needs a default"
                    )
            used.update(card.tags)
        unused = sorted(set(params) - used)
        if unused:
            raise ValueError(f"dashboard {self.key!r}: parameters {unused} are not used by any card")
        taken: dict[tuple[int, int], str] = {}
        for card in self.cards:
            for cell in card.layout.cells():
                if cell in taken:
                    raise ValueError(f"cards {taken[cell]!r} and {card.key!r} overlap at row/col {cell}")
                taken[cell] = card.key
        return self

    def parameter(self, key: str) -> Parameter:
        return next(p for p in self.parameters if p.key == key)

    def tag_types(self) -> dict[str, str]:
        return {p.key: p.type for p in self.parameters}

    def tag_fields(self, card: Card) -> dict[str, str]:
        """The field (`schema.table.column`) each field-filter tag of `card` filters."""
        out = {}
        for tag in card.tags:
            param = self.parameter(tag)
            if param.is_field_filter:
                out[tag] = param.field_for(card.tables()) or ""
        return out

    def marts(self) -> list[str]:
        """dbt models (schema `marts`) the cards read: the exposure's `depends_on`."""
        seen: dict[str, None] = {}
        for card in self.cards:
            for schema, table in card.tables():
                if schema == "marts":
                    seen.setdefault(table, None)
        return sorted(seen)

    def python_tables(self) -> list[str]:
        """`ml.*` / `insights.*` / `activation.*` tables the cards read (written by Python assets, not dbt)."""
        seen: dict[str, None] = {}
        for card in self.cards:
            for schema, table in card.tables():
                if schema != "marts":
                    seen.setdefault(f"{schema}.{table}", None)
        return sorted(seen)


def _unique(what: str, keys: list[str]) -> None:
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate {what} keys: {dupes}")


def load_dashboard(path: Path) -> Dashboard:
    """Parse and validate one definition file (errors name the file)."""
    with path.open() as fh:
        raw = yaml.safe_load(fh)
    try:
        return Dashboard.model_validate(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def load_dashboards(directory: Path = DEFINITIONS_DIR) -> list[Dashboard]:
    """Every `*.yml` in `directory`, sorted by file name; dashboard keys must be unique."""
    dashboards = [load_dashboard(p) for p in sorted(directory.glob("*.yml"))]
    if not dashboards:
        raise ValueError(f"no dashboard definitions (*.yml) in {directory}")
    _unique("dashboard", [d.key for d in dashboards])
    return dashboards


def dump_dashboard(dashboard: Dashboard) -> str:
    """YAML text of a dashboard in the same shape as the hand-written files (used by export)."""
    data = dashboard.model_dump(mode="json", exclude_defaults=False)
    for param in data["parameters"]:
        for key in ("default", "values"):
            if param[key] is None:
                del param[key]
        if not param["fields"]:
            del param["fields"]
        if not param["required"]:
            del param["required"]
    for card in data["cards"]:
        if not card["description"]:
            del card["description"]
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=110)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the SQL) as `|` blocks so exported files read like the hand-written ones."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_BlockDumper.add_representer(str, _str_presenter)
