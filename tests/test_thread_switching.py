"""The Rasa server, the action server and the desk hand threads the interpreter after 0.5 ms, not 5.

Each process is started as `make run` starts it, with what would run the server (Rasa's command
line, aiohttp's ``run_app``) replaced by a print of the interval it would have run with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.thread_switching import THREAD_SWITCH_SECONDS
from bot.settings import PROJECT_ROOT


def interval_of(code: str, **env: str) -> float:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    ran = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=environment, capture_output=True,
                         text=True, timeout=180)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    return float(ran.stdout.split("interval ")[-1].split()[0])


@pytest.mark.parametrize("command", [["rasa", "--version"], ["rasa", "run", "actions", "--help"]])
def test_rasa_and_its_action_server_run_with_the_short_interval(command: list[str]) -> None:
    code = (
        "import sys, rasa.__main__ as cli; cli.main = lambda: print('interval', sys.getswitchinterval()); "
        f"sys.argv = ['launch', *{command!r}]; from bot.runtime import launch; launch.main()"
    )
    assert interval_of(code) == THREAD_SWITCH_SECONDS  # a fresh interpreter starts at 5 ms: the launcher set it


def test_the_desk_runs_with_the_short_interval(tmp_path: Path) -> None:
    code = (
        "import sys, aiohttp.web as web; web.run_app = lambda *a, **k: print('interval', sys.getswitchinterval()); "
        "sys.argv = ['desk', '--port', '0']; from bot.desk.__main__ import main; main()"
    )
    assert interval_of(code, DATABASE_URL=f"sqlite:///{tmp_path / 'desk.db'}") == THREAD_SWITCH_SECONDS
