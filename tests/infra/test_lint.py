"""The infrastructure linters (scripts/lint.sh): cfn-lint, statelint and `sam validate --lint`.

The first `sam` run creates .venv-sam (aws-sam-cli pins its own boto3); later runs reuse it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.lint


@pytest.mark.parametrize("check", ["cfn", "asl", "sam"])
def test_linter_is_clean(check):
    proc = subprocess.run(["bash", "scripts/lint.sh", check], cwd=ROOT, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, f"scripts/lint.sh {check} failed:\n{output}"
