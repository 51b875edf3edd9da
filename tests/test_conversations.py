"""Whole conversations through the trained model: `rasa test core` on tests/conversations, as the README shows it.

Run as a plain ``rasa`` command, with no PYTHONPATH: Rasa finds our components from the
project directory. The files carry the ``test_`` prefix, so a bare ``rasa test`` finds them too.
Slow: it needs the model (trained by ``ensure_model()`` only when its inputs changed).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.model import ensure_model

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = ROOT / "tests" / "conversations"


@pytest.mark.slow
def test_conversation_stories_are_predicted_without_errors(tmp_path):
    files = sorted(CONVERSATIONS.glob("*.yml"))
    assert files and all(f.name.startswith("test_") for f in files), "`rasa test` reads only test_*.yml"
    stories = sum(len(re.findall(r"^- story:", f.read_text(encoding="utf-8"), re.M)) for f in files)
    model = ensure_model()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"})
    command = [
        str(Path(sys.executable).parent / "rasa"), "test", "core",
        "--model", str(model),
        "--stories", "tests/conversations",
        "--fail-on-prediction-errors",
        "--out", str(tmp_path / "results"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert f"Evaluating {stories} stories" in result.stdout + result.stderr, "every story was found and run"
    failed = tmp_path / "results" / "failed_test_stories.yml"
    assert not failed.exists() or "story:" not in failed.read_text(encoding="utf-8")
