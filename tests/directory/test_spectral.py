"""The committed OpenAPI document passes Spectral's `spectral:oas` ruleset (.spectral.yaml)
with no errors and no warnings.

Spectral is an npm package pinned in tools/spectral (package.json, package-lock.json);
`.ci/run` installs it with `npm ci --prefix tools/spectral`. Without it this test fails (it
never skips): run that command once.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = REPO_ROOT / "tools" / "spectral" / "node_modules" / ".bin" / "spectral"
DOCUMENT = REPO_ROOT / "openapi" / "openapi.json"
RULESET = REPO_ROOT / ".spectral.yaml"
SEVERITIES = {0: "error", 1: "warning", 2: "info", 3: "hint"}


def test_spectral_finds_no_errors_and_no_warnings():
    if not SPECTRAL.is_file():
        pytest.fail(
            f"Spectral is not installed at {SPECTRAL}: run `npm ci --prefix tools/spectral` "
            "(Node.js 18.18+ or 20.17+; make test and .ci/run do)"
        )
    done = subprocess.run(
        [str(SPECTRAL), "lint", str(DOCUMENT), "--ruleset", str(RULESET), "--format", "json",
         "--quiet", "--fail-severity", "hint"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:] or done.stdout[-3000:]
    results = json.loads(done.stdout)
    found = [
        f"{SEVERITIES.get(r['severity'], r['severity'])} {r['code']} at "
        f"{'.'.join(map(str, r['path']))}: {r['message']}"
        for r in results
        if r["severity"] <= 1
    ]
    assert not found, "\n".join(found)
