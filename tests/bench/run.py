"""`make bench`: every figure the issues ask for, printed and merged into .local/bench/results.json.

BENCH_ONLY=events,ml,nightly,dev_materialize,insights runs a subset.
"""

from __future__ import annotations

import importlib
import json
import os

from tests.bench.results import results_path

BENCHES = {
    "events": "tests.bench.events_ingest",  # events ingestion vs plain COPY (issue 4)
    "ml": "tests.bench.ml_truth",  # models scored against the simulated shop's truth (issue 6)
    "nightly": "tests.bench.nightly",  # full rebuild vs one new day (issues 5 and 8)
    "dev_materialize": "tests.bench.dev_materialize",  # one mart from the `journey dev` UI (issue 18)
    "insights": "tests.bench.insights_detection",  # planted incidents surfaced by the insights (issue 15)
}


def main() -> None:
    only = [b for b in os.environ.get("BENCH_ONLY", ",".join(BENCHES)).split(",") if b]
    for name in only:
        print(f"\n=== bench: {name} ===", flush=True)
        importlib.import_module(BENCHES[name]).run()
    print(f"\nresults ({results_path()}):")
    print(json.dumps(json.loads(results_path().read_text()), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
