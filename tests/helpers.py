"""Helpers that several test modules share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock the test moves: calling it gives `now`, which the test sets or adds to."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_cli(*args: str, cwd: Path = ROOT, input: str | None = None,
            env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`footbath ARGS` in a process of its own, as staff run it: no editor and no config file
    taken from the test runner's environment unless env_extra gives them."""
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR", "FOOTBATH_CONFIG")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=120)
