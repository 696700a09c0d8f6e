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
