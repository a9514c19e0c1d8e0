"""`python -m bot …` as the operator runs it: a fresh process that sees only the variables a test gives it.

Tests of the command line run the real program. Each used to build its own subprocess call, and each
had to remember to drop the SUPPORTBOT_ variables of the developer's shell (a config or data folder
there would change what the test sees); this is the one place that does it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

OWN = ("PORT", "HOST")  # besides SUPPORTBOT_*: the server's own variables


def clean_environment(env: Mapping[str, str] = {}) -> dict[str, str]:
    """This process's environment without the bot's variables, then `env`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_") and k not in OWN}
    return kept | dict(env)


def bot_command(
    *args: str, env: Mapping[str, str] = {}, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot *args` to its end; its exit code, stdout and stderr (nothing on stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
