"""Whole conversations through the trained model: `rasa test core` on tests/conversations.

Slow: it needs the model (trained by ``ensure_model()`` only when its inputs changed).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.model import ensure_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_conversation_stories_are_predicted_without_errors(tmp_path):
    model = ensure_model()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        str(Path(sys.executable).parent / "rasa"), "test", "core",
        "--model", str(model),
        "--stories", str(ROOT / "tests" / "conversations"),
        "--fail-on-prediction-errors",
        "--out", str(tmp_path / "results"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    failed = tmp_path / "results" / "failed_test_stories.yml"
    assert not failed.exists() or "story:" not in failed.read_text(encoding="utf-8")
