"""The browser app's pure modules (web/src: rooms, names, ids), under node's
own test runner: fast, no browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (make test installs it)")
def test_web_units() -> None:
    done = subprocess.run(
        ["node", "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
