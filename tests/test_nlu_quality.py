"""The NLU gate: the project's model, scored by `rasa test nlu` on held-out data.

It scores the same model `make run` serves (``bot.runtime.model.ensure_model``, cached
by a hash of its inputs), so the gate costs no training of its own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.model import ensure_model

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "tests" / "data" / "nlu_test.yml"
MACRO_F1_GATE = 0.90
P1_RECALL_GATE = 0.97
P1_INTENTS = ("suspected_theft", "account_locked")

pytestmark = pytest.mark.slow


def rasa(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run([str(Path(sys.executable).parent / "rasa"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"rasa {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="session")
def nlu_model():
    """The served model for the current inputs (trained only if they changed)."""
    return ensure_model()


@pytest.fixture(scope="session")
def intent_report(nlu_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("rasa-test-nlu")
    rasa("test", "nlu", "--model", str(nlu_model), "--nlu", str(TEST_SET), "--out", str(out), cwd=out)
    return json.loads((out / "intent_report.json").read_text())


def test_macro_f1_on_held_out_set(intent_report):
    f1 = intent_report["macro avg"]["f1-score"]
    assert f1 >= MACRO_F1_GATE, f"macro-F1 {f1:.3f} < {MACRO_F1_GATE} on {TEST_SET.name}"


@pytest.mark.parametrize("intent", P1_INTENTS)
def test_p1_recall_on_held_out_set(intent_report, intent):
    recall = intent_report[intent]["recall"]
    assert recall >= P1_RECALL_GATE, f"{intent} recall {recall:.3f} < {P1_RECALL_GATE}"
