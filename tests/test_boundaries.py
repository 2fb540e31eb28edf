"""The boundaries between the parts hold: import-linter checks the contracts declared
in pyproject.toml (common imports no service; each service imports only shared code,
the clients, the configuration library and itself; nothing outside the sandbox imports
the sandbox)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
