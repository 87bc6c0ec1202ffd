"""No deprecation, supersession, beta or preview warning from our code, and no dbt full re-parse.

Dagster warns at the call site (stacklevel), so a superseded or deprecated API we call is reported at
our file and line (`orchestration/defs/ops/freshness.py:109: SupersessionWarning` before issue 18);
warnings whose location is a third-party file come from that library's own calls and are not ours to
fix (pytest's summary still lists them). Three places are watched:
- loading the code location in a fresh process, as `dg dev` / the run worker load it;
- the tiny nightly (the shared `nightly` fixture, two runs): Python warnings the runs raised, Dagster's
  "Logging an `AssetObservation` instead of an `AssetCheckResult`" (a dbt test that is not an asset
  check), and dbt's own logs of the runs: no deprecation event and no "Unable to do partial parsing";
- pyproject's `filterwarnings` turns such a warning attributed to our modules into an error in any test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ingestion.warehouse.paths import PROJECT_ROOT

OUR_PACKAGES = ("orchestration", "ingestion", "ml", "dashboards")
# Dagster's lifecycle warnings: dagster_shared.utils.warnings (SupersessionWarning is a FutureWarning)
CATEGORIES = (
    "DeprecationWarning",
    "PendingDeprecationWarning",
    "FutureWarning",
    "BetaWarning",
    "PreviewWarning",
)

# heavy libraries that load only inside the assets that fit or call them (several seconds per process
# when they leaked to module level: the code server, every run worker and every step process import
# the code location)
HEAVY = ("prophet", "xgboost", "sklearn", "matplotlib", "openai", "scipy.optimize", "scipy.stats")

LOAD = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from orchestration.definitions import defs
    defs.get_repository_def()  # what a code server does next: resolve jobs, schedules, asset graph
    warnings.warn("canary", DeprecationWarning)  # proves the recorder records
print("WARNINGS=" + json.dumps([
    {"category": [c.__name__ for c in w.category.__mro__], "filename": w.filename, "lineno": w.lineno,
     "message": str(w.message)}
    for w in caught
]))
print("LOADED=" + json.dumps([m for m in HEAVY if m in sys.modules]))
""".replace("HEAVY", repr(HEAVY))


def ours(filename: str) -> bool:
    """True for a file of our packages (not the venv's copy of a dependency, not the tests)."""
    try:
        relative = Path(filename).resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        return False
    return relative.parts[0] in OUR_PACKAGES


def lifecycle(category_names: list[str]) -> bool:
    return any(name in CATEGORIES for name in category_names)


def describe(w: dict) -> str:
    return f"{w['filename']}:{w['lineno']}: {w['category'][0]}: {w['message']}"


@pytest.fixture(scope="module")
def fresh_load() -> dict[str, list]:
    """The code location loaded once in a fresh process: its warnings and which heavy modules it loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    found = {}
    for name in ("WARNINGS", "LOADED"):
        (line,) = [line for line in proc.stdout.splitlines() if line.startswith(f"{name}=")]
        found[name] = json.loads(line.removeprefix(f"{name}="))
    return found


def test_loading_the_definitions_warns_nothing_of_ours(fresh_load):
    caught = fresh_load["WARNINGS"]
    assert any(w["message"] == "canary" for w in caught), "the recorder recorded nothing"
    assert [describe(w) for w in caught if lifecycle(w["category"]) and ours(w["filename"])] == []


def test_loading_the_code_location_imports_no_heavy_ml_library(fresh_load):
    """Prophet, xgboost, scikit-learn, SciPy's optimizers and the OpenAI SDK stay out of the load."""
    assert fresh_load["LOADED"] == []


@pytest.mark.e2e
def test_the_nightly_warns_nothing_of_ours(nightly):
    caught = [
        {
            "category": [c.__name__ for c in w.category.__mro__],
            "filename": w.filename,
            "lineno": w.lineno,
            "message": str(w.message),
        }
        for w in nightly["warnings"]
    ]
    assert [describe(w) for w in caught if lifecycle(w["category"]) and ours(w["filename"])] == []


@pytest.mark.e2e
def test_every_dbt_test_result_is_an_asset_check_result(nightly):
    """dagster-dbt logs a warning per dbt test it cannot map to an asset check (a dbt source test
    before issue 18) and records an observation instead: those results never reach a check."""
    instance = nightly["instance"]
    for run in ("first", "second"):
        messages = [
            entry.user_message
            for entry in instance.all_logs(nightly[run].run_id)
            if "instead of an `AssetCheckResult`" in (entry.user_message or "")
        ]
        assert messages == [], f"{run} run: {len(messages)} dbt tests are not asset checks: {messages[:3]}"


def dbt_events(log: Path) -> list[dict]:
    events = []
    for line in log.read_text().splitlines():
        try:
            events.append(json.loads(line)["info"])
        except (json.JSONDecodeError, KeyError):
            continue  # dbt writes plain-text lines too (e.g. before the logger is configured)
    return events


@pytest.mark.e2e
def test_the_nightly_reuses_dbts_partial_parse_state(nightly):
    """The code location was parsed in the runs' environment, so each run's dbt build parses only
    what changed (the profile hash dbt keeps in partial_parse.msgpack matches), and dbt reports no
    deprecated project configuration."""
    for run in ("first", "second"):
        logs = nightly["dbt_logs"][run]
        assert logs, f"no dbt log of the {run} run under dbt_project/target"
        for log in logs:
            events = dbt_events(log)
            names = {e["name"] for e in events}
            assert "MainReportVersion" in names, f"{log} is not a dbt log"
            full_parse = [e["msg"] for e in events if e["name"] == "UnableToPartialParse"]
            assert full_parse == [], f"{run} run re-parsed the whole project: {full_parse} ({log})"
            assert names & {"PartialParsingEnabled", "PartialParsingSkipParsing"}, log
            deprecated = [e["msg"] for e in events if "Deprecat" in e["name"]]
            assert deprecated == [], f"{log}: {deprecated}"


def test_a_deprecation_attributed_to_our_modules_fails_any_test():
    """pyproject's `filterwarnings`: a lifecycle warning whose module is one of ours is an error; a
    third-party one (attributed to its own module) stays a warning."""
    from dagster_shared.utils.warnings import BetaWarning, PreviewWarning, SupersessionWarning

    ours_ = ["orchestration.defs.ops.freshness", "ingestion.shopify.source", "ml.churn.model", "dashboards"]
    for category in (
        DeprecationWarning,
        PendingDeprecationWarning,
        SupersessionWarning,
        BetaWarning,
        PreviewWarning,
    ):
        for module in ours_:
            # catch_warnings keeps the active filters (pyproject's among them) and restores them after
            with warnings.catch_warnings(record=True), pytest.raises(category):
                warnings.warn_explicit("ours", category, f"{module}.py", 1, module=module)
    for module in ("dagster_shared.dagster_model.pydantic_compat_layer", "dagster_dbt.asset_utils", "mlflow"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn_explicit("theirs", DeprecationWarning, f"{module}.py", 1, module=module)
        assert [str(w.message) for w in caught] == ["theirs"], module


def test_a_finished_dbt_invocations_parse_state_seeds_the_next(tmp_path, monkeypatch):
    """What keeps the second and later dbt invocations of a process (and the next process) from
    re-parsing after the first had to: each environment's parse state is kept apart, taken from an
    invocation only once it finished, and seeded into the next invocation's target dir."""
    from orchestration.defs.transform import resources
    from orchestration.defs.transform.project import parse_state_file

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setattr(resources, "_unkept", [])
    first = tmp_path / "target" / "dbt_build-1234567-abcdefg"
    first.mkdir(parents=True)
    (first / "partial_parse.msgpack").write_bytes(b"parsed by the first invocation")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        resources._unkept.append(resources._Invocation("env-a", running, first))
        resources.keep_finished_parse_states()
        assert not parse_state_file("env-a").exists()  # still running: its msgpack may be half-written
    finally:
        running.kill()
        running.wait()
    resources.keep_finished_parse_states()
    assert parse_state_file("env-a").read_bytes() == b"parsed by the first invocation"
    assert resources._unkept == []

    second = resources.invocation_target_path(None)
    assert second.parent == tmp_path / "target"
    assert resources.seed_parse_state("env-a", second)
    assert (second / "partial_parse.msgpack").read_bytes() == b"parsed by the first invocation"
    assert not resources.seed_parse_state("env-b", tmp_path / "target" / "other")  # another warehouse
    assert sorted(p.name for p in (tmp_path / "target").iterdir() if p.is_file()) == [
        "partial_parse.env-a.msgpack"
    ]
