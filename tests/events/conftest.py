"""Fixtures of the events tests: a private schema per test in the session warehouse."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings
from tests.events.browser import browser, chromium  # noqa: F401  (fixtures of the browser tests)

_ids = itertools.count(1)


@pytest.fixture
def events_schema(warehouse: WarehouseSettings) -> Iterator[str]:
    """A fresh schema with the contract's events tables, so tests never see each other's rows."""
    name = f"events_test_{next(_ids)}"
    yield name
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{name}" cascade')


def scalar(settings: WarehouseSettings, query: str, *params: object) -> object:
    with psycopg.connect(settings.role_url("admin")) as conn:
        return conn.execute(query, params).fetchone()[0]


def rows(settings: WarehouseSettings, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(settings.role_url("admin")) as conn:
        return conn.execute(query, params).fetchall()
