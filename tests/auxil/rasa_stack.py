"""Start the trained bot for end-to-end tests: an action server and one or more Rasa servers.

They are the real processes `make run` starts (same commands, same endpoints file), on
free ports, with the database given by the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bot.runtime.model import ensure_model
from bot.runtime.stack import Ports, commands, process_environment, write_endpoints
from bot.settings import PROJECT_ROOT, Settings

START_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningStack:
    """The running processes, and the REST conversations the test opened (by the test's own names)."""

    rasa_urls: list[str]
    env: dict[str, str]
    actions_url: str
    conversations: dict[str, tuple[str, str]] = field(default_factory=dict)

    def say(self, name: str, text: str, instance: int = 0) -> list[dict]:
        """Send as the conversation ``name``; the first message opens it (the server names it)."""
        body: dict[str, str] = {"message": text}
        headers = {}
        if name in self.conversations:
            conversation_id, secret = self.conversations[name]
            body["sender"] = conversation_id
            headers["Authorization"] = f"Bearer {secret}"
        response = requests.post(
            f"{self.rasa_urls[instance]}/webhooks/rest/webhook", json=body, headers=headers, timeout=60
        )
        response.raise_for_status()
        if name not in self.conversations:
            issued = response.headers
            self.conversations[name] = (issued["X-Conversation-Id"], issued["X-Conversation-Secret"])
        return list(response.json())

    def sender_key(self, name: str) -> str:
        """The key the tracker, the case and the mailbox use for the conversation ``name``."""
        return f"rest:{self.conversations[name][0]}"

    def poll(self, name: str, instance: int = 0) -> list[dict]:
        """The agent messages waiting for ``name`` (each handed out once)."""
        conversation_id, secret = self.conversations[name]
        response = requests.get(
            f"{self.rasa_urls[instance]}/webhooks/rest/messages",
            params={"sender": conversation_id},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        response.raise_for_status()
        return list(response.json())


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


@contextmanager
def rasa_stack(
    tmp_path: Path,
    database_url: str,
    *,
    instances: int = 1,
    redis_url: str | None = None,
    extra_env: dict | None = None,
) -> Iterator[RunningStack]:
    """Run the action server and ``instances`` Rasa servers until the block ends.

    ``instances=0`` runs the action server only, for a test that runs Rasa's agent in its
    own process (a channel that needs the test's HTTP session).
    """
    model = ensure_model()
    env_overrides = {"DATABASE_URL": database_url, "REDIS_URL": redis_url or "", **(extra_env or {})}
    saved = {k: os.environ.get(k) for k in env_overrides}
    os.environ.update(env_overrides)
    try:
        settings = Settings.from_env()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    action_port = free_port()
    ports = [Ports(rasa=free_port(), actions=action_port, desk=0) for _ in range(max(instances, 1))]
    endpoints = write_endpoints(settings, tmp_path / "var")
    env = process_environment(settings, ports[0])
    env.update(env_overrides)
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"})
    processes: list[tuple[subprocess.Popen, Path]] = []
    try:
        log = tmp_path / "actions.log"
        action = subprocess.Popen(
            commands(model, endpoints, ports[0])["actions"], cwd=PROJECT_ROOT, env=env,
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append((action, log))
        urls = [f"http://127.0.0.1:{port.rasa}" for port in ports[:instances]]
        # One instance at a time: the first creates the tracker tables, and model loading
        # is CPU-bound, so starting them together only makes each slower.
        for index, (port, url) in enumerate(zip(ports[:instances], urls, strict=True)):
            log = tmp_path / f"rasa-{index}.log"
            rasa = subprocess.Popen(
                commands(model, endpoints, port)["rasa"], cwd=PROJECT_ROOT, env={**env, "RASA_PORT": str(port.rasa)},
                stdout=log.open("w"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            processes.append((rasa, log))
            _wait_ready(f"{url}/webhooks/rest/", rasa, log)
        _wait_ready(f"http://127.0.0.1:{action_port}/health", action, processes[0][1])
        yield RunningStack(rasa_urls=urls, env=env, actions_url=f"http://127.0.0.1:{action_port}/webhook")
    finally:
        for process, _log in processes:
            process.terminate()
        for process, _log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


__all__ = ["RunningStack", "free_port", "rasa_stack"]
