"""The benchmarks' CPU accounting (``scripts/_benchlib.py``): what ``bench_api.py`` reports
as the CPU a request cost the server must count the server's workers, alive or reaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from _benchlib import children_cpu, process_tree_cpu  # noqa: E402

BURN_S = 0.4
#: burns BURN_S of CPU, says so, then waits to be told to exit
CHILD = f"""
import sys, time
started = time.process_time()
while time.process_time() - started < {BURN_S}:
    pass
print("burnt", flush=True)
sys.stdin.readline()
"""


def test_a_process_trees_cpu_counts_its_children_alive_and_reaped() -> None:
    before_tree, before_children = process_tree_cpu(os.getpid()), children_cpu()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == "burnt\n"
        alive = process_tree_cpu(os.getpid()) - before_tree
        assert alive >= BURN_S * 0.9, alive  # the child's CPU, while it runs
    # leaving the block closed its stdin and waited for it: the child has been reaped
    reaped = process_tree_cpu(os.getpid()) - before_tree
    assert reaped >= alive * 0.95, (alive, reaped)  # still counted once the child is gone
    assert children_cpu() - before_children >= BURN_S * 0.9


def test_the_api_benchmark_judges_a_national_directory_by_issue_14s_targets() -> None:
    """``bench_api.py`` picks its targets by database and by the directory's size: at
    50,000 services or more the patch needs 0.5 of /health and a p99 under 25 ms (both
    must hold), on either database; below that the database's own ratios, no p99."""
    from bench_api import PATCH, POSTCODE, targets_for, verdicts

    assert targets_for(False, 3_000).ratios == {POSTCODE: 0.7, PATCH: 0.6}
    assert targets_for(True, 3_000).ratios == {POSTCODE: 0.75, PATCH: 0.7}
    assert not targets_for(True, 49_999).p99_ms
    national = targets_for(True, 100_000)
    assert national.ratios == {POSTCODE: 0.75, PATCH: 0.5}
    assert national.p99_ms == {PATCH: 25.0}
    assert targets_for(False, 50_000).ratios[PATCH] == 0.5

    def judged(patch_ratio: float, patch_p99: float) -> tuple[str, bool]:
        ratios = {POSTCODE: 0.8, PATCH: patch_ratio}
        return verdicts(national, ratios, {POSTCODE: 9.0, PATCH: patch_p99})[PATCH]

    assert judged(0.55, 20.0) == (">= 0.5, p99 < 25 ms", True)
    assert judged(0.55, 34.2) == (">= 0.5, p99 < 25 ms", False)  # the ratio alone is not enough
    assert judged(0.42, 15.0)[1] is False
    assert verdicts(national, {POSTCODE: 0.74, PATCH: 0.6}, {POSTCODE: 1.0, PATCH: 1.0})[
        POSTCODE
    ] == (">= 0.75", False)


def test_the_scale_benchmark_judges_every_target_it_measures(capsys) -> None:
    """``bench_scale.py`` says met or MISSED for each of issue 14's targets at 100k: the
    import's time per row and its wall time, the warm patch against 1k's, a new ward's
    patch and a worker's memory (these last three were printed without a verdict)."""
    from bench_scale import report

    def row(n: int, per_row: float, warm: float, cold: float, rss: float) -> dict[str, float]:
        return {
            "services": n, "import_s": n * per_row / 1000, "per_row_ms": per_row,
            "import_peak_rss_mb": 300.0, "import_start_rss_mb": 200.0, "first_patch_s": 0.1,
            "patch_warm_ms": warm, "patch_cold_ms": cold, "bbox_ms": 10.0, "rss_mb": rss,
        }  # fmt: skip

    report("SQLite", [row(1_000, 1.0, 2.0, 5.0, 150), row(10_000, 1.0, 2.5, 6.0, 200),
                      row(100_000, 1.2, 3.9, 19.0, 590)])  # fmt: skip
    out = capsys.readouterr().out
    assert "100k: 1.20× 10k's time per row (target ≤ 1.5); 2.0 min (target < 3 min): met" in out
    assert "100k: 1.95× 1k's warm patch: met" in out
    assert "a new ward's patch 19.0 ms (target < 20): met" in out
    assert "590 MB RSS (target < 600): met" in out
    report("SQLite", [row(1_000, 1.0, 2.0, 5.0, 150), row(100_000, 1.0, 4.1, 21.0, 610)])
    out = capsys.readouterr().out
    assert "100k: 2.05× 1k's warm patch: MISSED" in out
    assert "patch 21.0 ms (target < 20): MISSED" in out
    assert "610 MB RSS (target < 600): MISSED" in out
