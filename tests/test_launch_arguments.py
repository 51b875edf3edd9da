"""The launcher reads the model and logging file from Rasa's command line in every form Rasa accepts,
so the NLU child loads the model the server loads and ``--help`` starts no child; it hands threads
the interpreter sooner than CPython does by default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.runtime.launch import THREAD_SWITCH_SECONDS, _given
from bot.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    "arguments",
    [
        ["run", "--model", "models/a.tar.gz"],
        ["run", "--model=models/a.tar.gz"],
        ["run", "-m", "models/a.tar.gz"],
        ["run", "-mmodels/a.tar.gz"],
        ["run", "--mod", "models/a.tar.gz"],  # argparse's abbreviations, which Rasa's parser accepts
        ["run", "--port", "5005", "--enable-api", "-m", "models/a.tar.gz", "--cors", "*"],
    ],
)
def test_the_model_is_read_in_each_form_rasa_accepts(arguments: list[str]) -> None:
    given = _given(arguments)
    assert given.model == "models/a.tar.gz"
    assert not given.help


def test_the_logging_file_is_read_with_or_without_an_equals_sign() -> None:
    assert _given(["run", "--logging-config-file", "logging.yml"]).logging_config == "logging.yml"
    assert _given(["run", "actions", "--logging-config-file=logging.yml"]).logging_config == "logging.yml"
    assert _given(["run", "--logging-config", "logging.yml"]).logging_config == "logging.yml"
    assert _given(["run"]).logging_config is None
    assert _given(["run"]).model is None


@pytest.mark.parametrize("arguments", [["run", "--help"], ["run", "-h"], ["run", "--he"], ["run", "--model"]])
def test_help_or_a_command_line_rasa_will_refuse_starts_nothing(arguments: list[str]) -> None:
    assert _given(arguments).help, "Rasa prints its usage and exits: no NLU child is started for it"


def test_rasa_runs_with_the_short_thread_switch_interval() -> None:
    """Rasa's command line (replaced here by a print) starts in a process that switches threads every 0.5 ms."""
    code = (
        "import sys, rasa.__main__ as cli; cli.main = lambda: print('interval', sys.getswitchinterval()); "
        "sys.argv = ['launch', 'rasa', '--version']; from bot.runtime import launch; launch.main()"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    ran = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=180)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert f"interval {THREAD_SWITCH_SECONDS}" in ran.stdout
    assert sys.getswitchinterval() != THREAD_SWITCH_SECONDS  # this process's default: the launcher set it
