"""The code of services/ passes the field's static checks, configured in pyproject.toml:
ruff's lint (pycodestyle, pyflakes, bugbear), ruff's formatter (nothing left to reformat)
and mypy's type check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKS = {
    "ruff lint": ["ruff", "check", "--no-cache", "services"],
    "ruff format": ["ruff", "format", "--check", "--no-cache", "services"],
    "mypy": ["mypy", "--no-incremental"],
}


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_the_code_passes(check):
    tool, *args = CHECKS[check]
    done = subprocess.run([str(Path(sys.executable).with_name(tool)), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{check} found:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"
