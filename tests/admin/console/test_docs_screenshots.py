"""docs/console.md shows every screenshot kept in docs/console/, and each one it shows is there
(the browser tests take them: CZ_CONSOLE_SCREENSHOTS=docs/console)."""
from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_screenshot_is_shown_and_every_one_shown_is_kept():
    shown = set(re.findall(r"!\[[^\]]*\]\(console/([^)\s]+\.png)\)", (DOCS / "console.md").read_text()))
    kept = {path.name for path in (DOCS / "console").glob("*.png")}
    assert not kept - shown, f"in docs/console/ but not shown in docs/console.md: {sorted(kept - shown)}"
    assert not shown - kept, f"shown in docs/console.md but not in docs/console/: {sorted(shown - kept)}"
