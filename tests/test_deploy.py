"""The deployment files in deploy/: compose validates, systemd units verify, and the image's processes run here.

Docker cannot run on this machine, so the image's entry points are run as plain processes
with the environment compose gives them, on PostgreSQL and Redis, behind the real Caddy
configuration: only the channels' webhooks get through it. The tools come from Debian
(`tests/setup_machine.sh`); without one its test is skipped with the reason, and fails under CI.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from bot.runtime.model import ensure_model
from bot.runtime.serve import PROCESSES
from bot.runtime.stack import LOCK_STORE
from bot.settings import PROJECT_ROOT
from tests.auxil.databases import IN_CI
from tests.auxil.rasa_stack import Child, free_port

DEPLOY = PROJECT_ROOT / "deploy"
SERVE = ["python", "-m", "bot.runtime.serve"]


def require_tool(name: str) -> str:
    """The tool's path; skipped with the reason when it is not installed (a failure under CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (tests/setup_machine.sh installs it from Debian)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("docker-compose"), "-f", str(DEPLOY / "compose.yaml"), "config"],
        env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def published(ports: list[str | dict]) -> set[str]:
    """Each published port as ``address:port`` (``*``: every address), from compose's short or long syntax."""
    addresses = set()
    for port in ports:
        if isinstance(port, dict):
            addresses.add(f"{port.get('host_ip') or '*'}:{port['published']}")
        else:
            parts = port.split("/")[0].split(":")
            addresses.add(f"{parts[0]}:{parts[1]}" if len(parts) == 3 else f"*:{parts[0]}")
    return addresses


def test_compose_is_valid_and_only_the_proxy_is_public():
    refused = compose_config(SITE_ADDRESS="bot.example.com")
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr, "no database without a password"
    result = compose_config(POSTGRES_PASSWORD="pw", SITE_ADDRESS="bot.example.com")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    rasa = sorted(name for name in services if name.startswith("rasa-"))
    assert len(rasa) >= 2, "several Rasa servers behind the proxy"
    assert {"postgres", "redis", "migrate", "actions", "desk", "proxy"} <= set(services)
    ports = {name: published(service["ports"]) for name, service in services.items() if service.get("ports")}
    assert ports == {"proxy": {"*:80", "*:443"}, "desk": {"127.0.0.1:8080"}}, "the desk on loopback, nothing else"
    assert services["proxy"]["environment"]["RASA_UPSTREAMS"].split() == [f"{name}:5005" for name in rasa]
    assert len({services[name]["environment"]["INSTANCE_ID"] for name in rasa}) == len(rasa)
    built = {name: service["command"] for name, service in services.items() if "build" in service}
    assert built == {
        "migrate": ["python", "-m", "bot.migrate"],
        "actions": [*SERVE, "actions"],
        "desk": [*SERVE, "desk"],
        **{name: [*SERVE, "rasa"] for name in rasa},
    }
    assert all(importlib.util.find_spec(command[2]) for command in built.values())
    assert all(command[3] in PROCESSES for command in built.values() if command[:3] == SERVE)
    for name in (*rasa, "desk", "actions"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://"), name
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:"), name
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.10" in dockerfile and "pip install -r requirements.lock" in dockerfile
    assert "python -m bot.runtime.model" in dockerfile, "the model is trained when the image is built"
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().split(), "no secrets in the image"


def test_systemd_units_verify(tmp_path):
    analyze = require_tool("systemd-analyze")
    units = sorted((DEPLOY / "systemd").iterdir())
    for unit in units:  # the units name /opt/support-bot; verify needs the commands to exist
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/support-bot", str(PROJECT_ROOT)))
    names = [name.replace("@.", "@5005.") for name in (unit.name for unit in units)]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "support-bot-rasa@5005.service" in names and "support-bot.target" in names
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_the_image_processes_serve_webhooks_only_through_the_proxy(tmp_path, pg_url, redis_url):
    caddy = require_tool("caddy")
    ensure_model()
    rasa_port, actions_port, desk_port, proxy_port = (free_port() for _ in range(4))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TELEGRAM_", "X_", "DESK_"))}
    env.update({  # what compose.yaml gives the processes, on loopback ports
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "RASA_PORT": str(rasa_port), "ACTIONS_PORT": str(actions_port), "DESK_PORT": str(desk_port),
        "RASA_HOST": "127.0.0.1", "ACTIONS_HOST": "127.0.0.1", "DESK_HOST": "127.0.0.1",
        "INSTANCE_ID": "rasa-1",
        "TELEGRAM_ATTACHMENT_DIR": str(tmp_path / "attachments"),
        "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false",
    })  # fmt: skip
    python = [sys.executable, *SERVE[1:]]
    migrate = subprocess.run([sys.executable, "-m", "bot.migrate"], cwd=PROJECT_ROOT, env=env, timeout=300)
    assert migrate.returncode == 0
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    children = {
        "actions": Child([*python, "actions"], env, tmp_path / "actions.log", f"http://127.0.0.1:{actions_port}/health"),
        "rasa": Child([*python, "rasa"], env, tmp_path / "rasa.log", f"{rasa_url}/"),
        "desk": Child([*python, "desk"], env, tmp_path / "desk.log", f"http://127.0.0.1:{desk_port}/healthz"),
    }
    proxy_env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
        "SITE_ADDRESS": f"http://127.0.0.1:{proxy_port}", "RASA_UPSTREAMS": f"127.0.0.1:{rasa_port}",
    }  # fmt: skip
    command = [caddy, "run", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"]
    proxy_log = tmp_path / "proxy.log"
    try:
        for child in children.values():
            child.start()
        for child in children.values():
            child.wait_ready()
        with proxy_log.open("w") as log:
            proxy = subprocess.Popen(command, env=proxy_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(proxy_port, proxy, proxy_log)
            public = f"http://127.0.0.1:{proxy_port}"
            opened = requests.post(f"{public}/webhooks/rest/webhook", json={"message": "hello"}, timeout=60)
            assert opened.status_code == 200 and opened.json(), opened.text
            conversation, secret = opened.headers["X-Conversation-Id"], opened.headers["X-Conversation-Secret"]
            mailbox = requests.get(
                f"{public}/webhooks/rest/messages", params={"sender": conversation},
                headers={"Authorization": f"Bearer {secret}"}, timeout=10,
            )  # fmt: skip
            assert mailbox.status_code == 200 and mailbox.json() == []
            assert requests.get(f"{rasa_url}/webhooks/rest/", timeout=10).status_code == 200
            for path in ("/", "/webhooks/rest/", "/webhooks/telegram/", "/model/parse", "/conversations/x/tracker"):
                assert requests.get(f"{public}{path}", timeout=10).status_code == 404, path
                assert requests.post(f"{public}{path}", json={}, timeout=10).status_code == 404, path
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    finally:
        for child in children.values():
            if child.process is not None:
                child.process.terminate()
        for child in children.values():
            if child.process is not None:
                try:
                    child.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.process.kill()
    endpoints = yaml.safe_load((PROJECT_ROOT / "var" / "endpoints.yml").read_text())
    assert endpoints["action_endpoint"]["url"] == env["ACTION_ENDPOINT_URL"]
    assert endpoints["lock_store"]["type"] == LOCK_STORE, "several Rasa servers share Redis as lock store"
    assert "bot.desk.hash_password" in (tmp_path / "desk.log").read_text(), "empty DESK_AGENTS says how to add one"
