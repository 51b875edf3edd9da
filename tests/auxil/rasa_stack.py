"""Start the trained bot for end-to-end tests: an action server and one or more Rasa servers.

They are the real processes `make run` starts (same commands, same endpoints file), on
free ports, with the database given by the test. A test can ``kill`` one of them (SIGKILL)
and ``start`` it again with the same command line and environment, as `make run` would.
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
from typing import TYPE_CHECKING, Any

import requests

from bot.runtime.model import ensure_model
from bot.runtime.stack import Ports, commands, process_environment, write_endpoints
from bot.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from rasa.utils.endpoints import EndpointConfig

START_TIMEOUT = 300.0


def action_endpoint(url: str) -> EndpointConfig:
    """Rasa's action endpoint at ``url``, configured as endpoints.yml configures it (selective domain)."""
    from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

    configured = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "action_endpoint")
    assert configured is not None
    return EndpointConfig(url, **configured.kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """One process of the stack: what starts it again after a kill, and the URL that says it is up."""

    command: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        assert self.process is not None
        _wait_ready(self.ready_url, self.process, self.log)


@dataclass
class RunningStack:
    """The running processes, and the REST conversations the test opened (by the test's own names)."""

    rasa_urls: list[str]
    env: dict[str, str]
    actions_url: str
    conversations: dict[str, tuple[str, str]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)  # "actions", "rasa-0", "rasa-1", ...

    def kill(self, name: str) -> None:
        """SIGKILL the process ``name`` (no clean-up runs in it) and reap it."""
        process = self.children[name].process
        assert process is not None and process.poll() is None, f"{name} is not running"
        process.kill()
        process.wait(timeout=10)

    def start(self, name: str) -> None:
        """Start ``name`` again with its command line and environment; return when it answers."""
        self.children[name].start()
        self.children[name].wait_ready()

    def say(self, name: str, text: str, instance: int = 0, metadata: dict[str, Any] | None = None) -> list[dict]:
        """Send as the conversation ``name``; the first message opens it (the server names it)."""
        body: dict[str, Any] = {"message": text}
        if metadata is not None:
            body["metadata"] = metadata
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
    desk_env: dict | None = None,
) -> Iterator[RunningStack]:
    """Run the action server and ``instances`` Rasa servers until the block ends.

    ``instances=0`` runs the action server only, for a test that runs Rasa's agent in its
    own process (a channel that needs the test's HTTP session). With ``desk_env`` the agent
    desk runs too (child ``"desk"``), with those variables on top of the stack's.
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
    endpoints = write_endpoints(settings, f"http://127.0.0.1:{action_port}/webhook", tmp_path / "var")
    env = process_environment(settings, ports[0])
    env.update(env_overrides)
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"})
    children: dict[str, Child] = {}
    try:
        children["actions"] = action = Child(
            commands(model, endpoints, ports[0])["actions"], env, tmp_path / "actions.log",
            f"http://127.0.0.1:{action_port}/health",
        )  # fmt: skip
        action.log.write_text("")
        action.start()
        urls = [f"http://127.0.0.1:{port.rasa}" for port in ports[:instances]]
        # One instance at a time: the first creates the tracker tables, and model loading
        # is CPU-bound, so starting them together only makes each slower.
        for index, (port, url) in enumerate(zip(ports[:instances], urls, strict=True)):
            children[f"rasa-{index}"] = rasa = Child(
                commands(model, endpoints, port)["rasa"], {**env, "RASA_PORT": str(port.rasa)},
                tmp_path / f"rasa-{index}.log", f"{url}/webhooks/rest/",
            )  # fmt: skip
            rasa.log.write_text("")
            rasa.start()
            rasa.wait_ready()
        action.wait_ready()
        if desk_env is not None:
            desk_port = free_port()
            children["desk"] = desk = Child(
                commands(model, endpoints, Ports(rasa=0, actions=action_port, desk=desk_port))["desk"],
                {**env, **desk_env}, tmp_path / "desk.log", f"http://127.0.0.1:{desk_port}/healthz",
            )  # fmt: skip
            desk.log.write_text("")
            desk.start()
            desk.wait_ready()
        yield RunningStack(
            rasa_urls=urls, env=env, actions_url=f"http://127.0.0.1:{action_port}/webhook", children=children
        )
    finally:
        running = [child.process for child in children.values() if child.process is not None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


__all__ = ["Child", "RunningStack", "free_port", "rasa_stack"]
