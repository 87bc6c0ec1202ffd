"""The simulated shop is a pure function of (size, seed, days): same inputs, byte-identical files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingestion.sandbox.shop import advance_world, generate_world, load_world


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    generate_world("tiny", 7, a, days=60)
    generate_world("tiny", 7, b, days=60)
    return a, b


def test_same_seed_gives_identical_files(twice: tuple[Path, Path]) -> None:
    a, b = twice
    da, db = digest(a), digest(b)
    assert len(da) > 20
    assert any(k.endswith(".jsonl") for k in da)
    assert da == db


def test_different_seed_gives_different_files(twice: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = twice
    generate_world("tiny", 8, tmp_path, days=60)
    da, dc = digest(a), digest(tmp_path)
    for table in ("orders.parquet", "sessions.parquet", "customers.parquet", "meta_insights_daily.parquet"):
        assert da[table] != dc[table], table
    shared = set(da) & set(dc)
    assert sum(da[k] != dc[k] for k in shared if k.endswith(".jsonl")) > 0.9 * sum(
        k.endswith(".jsonl") for k in shared
    )


def test_advance_equals_generating_all_days(tmp_path: Path) -> None:
    once, stepped = tmp_path / "once", tmp_path / "stepped"
    generate_world("tiny", 11, once, days=40)
    generate_world("tiny", 11, stepped, days=39)
    before = digest(stepped)
    world = advance_world(stepped, 1)
    assert world["days"] == 40 and load_world(stepped) == load_world(once)
    after, expected = digest(stepped), digest(once)
    assert after == expected
    # the new day brought new landing files and more rows; no stale files were left behind
    assert set(after) - set(before)
    assert world["counts"]["events"] > 0 and world["counts"]["orders"] > 0


def test_world_json_contract(twice: tuple[Path, Path]) -> None:
    world = load_world(twice[0])
    assert world["start_date"] == "2024-11-01" and world["end_date"] == "2024-12-31" and world["days"] == 60
    assert {"seed", "size", "generated_at_version", "counts"} <= set(world)
    assert world["counts"]["events"] == sum(
        len(p.read_bytes().splitlines()) for p in (twice[0] / "landing" / "events").rglob("*.jsonl")
    )
