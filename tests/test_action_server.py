"""The action server as `make run` starts it, with two Sanic workers: /metrics adds up both, labels stay bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from bot.runtime.stack import Ports, commands
from bot.settings import PROJECT_ROOT
from tests.auxil.metrics import value
from tests.auxil.rasa_stack import Child, free_port

MAX_CALLS = 200


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'support.db'}"


@pytest.fixture
def action_server(tmp_path: Path, database_url: str):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "SANIC_HOST": "127.0.0.1",
        "ACTION_SERVER_SANIC_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "inherited"),  # dropped: it could be shared with others
        "TMPDIR": str(tmp_path),  # where the launcher makes the workers' own directory
        "LOG_FORMAT": "json",
    }
    command = commands(Path("unused-model"), Path("unused-endpoints"), Ports(rasa=0, actions=port, desk=0))["actions"]
    child = Child(command, env, tmp_path / "actions.log", f"http://127.0.0.1:{port}/health")
    child.start()
    try:
        child.wait_ready()
        yield f"http://127.0.0.1:{port}", child, tmp_path
    finally:
        assert child.process is not None
        child.process.terminate()
        child.process.wait(timeout=30)


def _call(base: str, action: str, message_id: str) -> int:
    tracker = {
        "sender_id": "rest:c1",
        "slots": {},
        "latest_message": {"text": "status?", "intent": {"name": "check_case_status"}, "message_id": message_id},
        "events": [],
        "active_loop": {},
    }
    body = {"next_action": action, "sender_id": "rest:c1", "tracker": tracker, "domain": {}}
    return requests.post(f"{base}/webhook", json=body, timeout=30).status_code


def test_both_workers_calls_are_counted_in_every_scrape(action_server):
    base, child, tmp_path = action_server
    calls = 0
    while len(list(tmp_path.glob("support-metrics-*/counter_*.db"))) < 2:  # until each worker has served a call
        assert calls < MAX_CALLS, "one worker served every call"
        assert _call(base, "action_case_status", f"rest-{calls:04d}") == 200
        calls += 1
    assert _call(base, "action_nobody_wrote", "rest-9999") == 404
    for _ in range(4):  # each scrape may reach either worker; each must see every call
        scrape = requests.get(f"{base}/metrics", timeout=10).text
        assert value(scrape, "support_action_calls_total", action="action_case_status", outcome="ok") == calls
        assert value(scrape, "support_action_seconds_count", action="action_case_status") == calls
        assert value(scrape, "support_action_calls_total", action="unknown", outcome="not_found") == 1
        assert "action_nobody_wrote" not in scrape
    assert not (tmp_path / "inherited").exists()
    refused = requests.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert refused.status_code == 403
    lines = [json.loads(line) for line in child.log.read_text().splitlines() if line.startswith("{")]
    assert lines and {line["service"] for line in lines} == {"actions"}


@pytest.mark.parametrize("database_url", ["postgresql://postgres@127.0.0.1:1/nothing-listens"])
def test_a_call_the_database_cannot_serve_is_answered_503(action_server):
    """Not rasa_sdk's 500: the Rasa server retries a 503 and never sets the customer's turn aside for it."""
    base, child, _ = action_server
    assert _call(base, "action_case_status", "rest-0001") == 503
    assert "the database is unavailable" in child.log.read_text()
