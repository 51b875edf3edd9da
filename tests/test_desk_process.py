"""The desk as `make run` starts it: a process that serves, and stops promptly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from bot.desk import __main__ as desk_main
from bot.settings import PROJECT_ROOT
from tests.auxil.rasa_stack import free_port


def test_desk_serves_and_stops_within_seconds_of_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    desk = subprocess.Popen([sys.executable, "-m", "bot.desk", "--port", str(port)], cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/", allow_redirects=False, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "desk did not start"
                time.sleep(0.2)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
        desk.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert desk.wait(timeout=30) == 0
        assert time.monotonic() - started < 10, "background loops must not hold the shutdown"
    finally:
        if desk.poll() is None:
            desk.kill()


@pytest.mark.parametrize(
    ("env", "argv", "host"),
    [
        ({}, [], "127.0.0.1"),
        ({"DESK_HOST": "10.0.0.5"}, [], "10.0.0.5"),
        ({"DESK_HOST": "10.0.0.5"}, ["--host", "::1"], "::1"),
    ],
)
def test_the_desk_listens_on_loopback_unless_told_otherwise(monkeypatch, tmp_path, env, argv, host):
    served = {}
    monkeypatch.delenv("DESK_HOST", raising=False)
    for name, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}", **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["bot.desk", "--port", "8080", *argv])
    monkeypatch.setattr(desk_main.web, "run_app", lambda app, host, port, **_: served.update(host=host, port=port))
    desk_main.main()
    assert served == {"host": host, "port": 8080}
