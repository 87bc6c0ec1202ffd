"""Segment definitions as code: one YAML file per segment under `segments/` at the project root.

A definition is a single read-only SELECT over the reporter's schemas (`marts`, `ml`) that returns one
`customer_id` per member; the nightly `segment_snapshot` asset evaluates it as the `reporter` role,
after the marts and the ML scores are built, and dbt turns the daily snapshots into
`marts.segment_members` (spells with `since`/`until`) and `marts.fct_segment_sizes_daily`.

    name: win_back                    # slug, the key everywhere (tags, audiences, marts)
    label: Win-back                   # what people read
    description: High churn risk and high predicted value: worth a win-back offer.
    sql: |
      select customer_id from marts.dim_customers where ...
    destinations: [meta_custom_audiences, shopify_tags]   # optional; none = warehouse only
    question: "…"                     # optional: the words `journey segments ask` built it from
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingestion.warehouse.paths import PROJECT_ROOT

SEGMENTS_DIR = PROJECT_ROOT / "segments"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
DESTINATIONS = ("meta_custom_audiences", "shopify_tags")
FIELDS = ("name", "label", "description", "sql", "destinations", "question")


class SegmentDefinitionError(ValueError):
    """A segment file that cannot be used, naming the file and what is wrong with it."""


@dataclass(frozen=True)
class SegmentDefinition:
    name: str
    label: str
    description: str
    sql: str
    destinations: tuple[str, ...] = ()
    question: str | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"segment {self.path or self.name!s}"
        if not NAME_RE.match(self.name or ""):
            raise SegmentDefinitionError(
                f"{where}: name {self.name!r} must be lowercase letters, digits and underscores, "
                "starting with a letter"
            )
        if not (self.sql or "").strip():
            raise SegmentDefinitionError(f"{where}: `sql` is empty")
        unknown = [d for d in self.destinations if d not in DESTINATIONS]
        if unknown:
            raise SegmentDefinitionError(
                f"{where}: unknown destination(s) {unknown}; known: {list(DESTINATIONS)}"
            )

    @property
    def shopify_tag(self) -> str:
        """The customer tag this segment is synced as, e.g. `journey:win-back`."""
        return "journey:" + self.name.replace("_", "-")

    def to_yaml(self) -> str:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "sql": self.sql.strip() + "\n",
        }
        if self.destinations:
            body["destinations"] = list(self.destinations)
        if self.question:
            body["question"] = self.question
        return yaml.dump(body, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=100)

    @classmethod
    def from_mapping(cls, raw: Any, path: Path | None = None) -> SegmentDefinition:
        if not isinstance(raw, dict):
            raise SegmentDefinitionError(f"segment {path}: expected a mapping, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise SegmentDefinitionError(f"segment {path}: unknown key(s) {unknown}; known: {list(FIELDS)}")
        missing = [k for k in ("name", "sql") if not raw.get(k)]
        if missing:
            raise SegmentDefinitionError(f"segment {path}: missing {missing}")
        return cls(
            name=str(raw["name"]),
            label=str(raw.get("label") or raw["name"].replace("_", " ").capitalize()),
            description=str(raw.get("description") or "").strip(),
            sql=str(raw["sql"]),
            destinations=tuple(raw.get("destinations") or ()),
            question=raw.get("question"),
            path=path,
        )


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (the SQL) as `|` blocks, so a saved file reads like a hand-written one."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def load_segments(directory: Path | None = None) -> list[SegmentDefinition]:
    """Every `*.yml` under `directory` (default `segments/`), sorted by name; names must be unique and
    match their file name."""
    directory = SEGMENTS_DIR if directory is None else Path(directory)
    found: list[SegmentDefinition] = []
    for path in sorted(directory.glob("*.yml")):
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise SegmentDefinitionError(f"segment {path}: not valid YAML: {exc}") from exc
        definition = SegmentDefinition.from_mapping(raw, path)
        if definition.name != path.stem:
            raise SegmentDefinitionError(
                f"segment {path}: name {definition.name!r} differs from the file name {path.stem!r}"
            )
        found.append(definition)
    return found


def save_segment(
    definition: SegmentDefinition, directory: Path | None = None, overwrite: bool = False
) -> Path:
    """Write `<name>.yml`; refuses to replace an existing segment unless `overwrite`."""
    directory = SEGMENTS_DIR if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{definition.name}.yml"
    if path.exists() and not overwrite:
        raise SegmentDefinitionError(f"segment {path} exists already: pick another name or overwrite it")
    path.write_text(definition.to_yaml())
    return path
