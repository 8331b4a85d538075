"""kill -9 and wait: the crash half of the fault harness.  Restarting is the
owner's business (``Edge.start()`` in tests, a supervisor for a broker)."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def kill9(pid: int) -> None:
    """SIGKILL ``pid``; no error if it is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    """Whether ``pid`` stopped existing (or became a zombie) within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False
