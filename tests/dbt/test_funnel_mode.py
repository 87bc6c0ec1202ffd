"""The `funnel_mode` var: an unknown mode fails the build when the funnel marts compile, naming the two
modes (the modes' semantics are dbt unit tests beside the models)."""

from __future__ import annotations


def test_an_unknown_funnel_mode_fails_with_a_clear_message(dbt_warehouse, run_dbt, tmp_path):
    # a target path of its own: other vars would throw away the shared partial-parse manifest
    proc = run_dbt(
        "compile", "--select", "fct_funnel_daily", "--vars", "{funnel_mode: strict}",
        "--target-path", str(tmp_path / "target"), check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "var funnel_mode is 'strict'" in out, out[-3000:]
    assert "'reached'" in out and "'ordered'" in out
