"""Regenerate the README's studio screenshots (docs/img/studio-desktop.png and
studio-phone.png), by hand: the studio's browser test takes them; run normally, it writes them
to a temporary folder, here to docs/img.

    python docs/screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {**os.environ, "OPENKLING_TEST_SCREENSHOTS_DIR": str(ROOT / "docs" / "img")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    test = "tests/studio/test_studio.py::test_screenshot_then_forget_the_key"
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=ROOT, env=env
    )


if __name__ == "__main__":
    sys.exit(main())
