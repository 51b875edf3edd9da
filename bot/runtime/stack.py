"""``make run``: upgrade the database, start the action server, Rasa server and desk; restart one that dies.

Reads ``.env`` (python-dotenv; the environment wins), checks every setting and stops before
starting anything if one is bad. Writes ``var/endpoints.yml``: ``endpoints.yml`` with this
stack's action server, plus the Redis lock store when ``REDIS_URL`` is set. Says "ready" once
every process answers its readiness check (``readiness_urls``), and meanwhile, every
``REPORT_SECONDS``, what it still waits for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bot.desk.settings import NO_AGENTS_HINT, DeskSettings
from bot.runtime import logs
from bot.runtime.configuration import INVALID_SETTINGS_STATUS, load_env_file, require_valid_environment
from bot.runtime.free_ports import taken_ports
from bot.runtime.model import ensure_model
from bot.runtime.probe import not_ready, readiness_notes
from bot.runtime.server_settings import ActionServerSettings, Ports
from bot.settings import PROJECT_ROOT, Settings

LOCK_STORE = "bot.runtime.lock_store.RenewedRedisLockStore"  # Rasa imports it by this path


def write_endpoints(settings: Settings, action_url: str, var_dir: Path) -> Path:
    """``endpoints.yml`` with this stack's action server, and the Redis lock store when configured, in ``var/``.

    Written to a temporary file and renamed, so Rasa servers starting together never read half a file.
    """
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = action_url
    if settings.redis_url:
        endpoints["lock_store"] = redis_lock_store(settings.redis_url, settings.redis_timeout_seconds)
    var_dir.mkdir(parents=True, exist_ok=True)
    target = var_dir / "endpoints.yml"
    partial = target.with_name(f".endpoints.{os.getpid()}.yml")
    partial.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    partial.replace(target)
    return target


def redis_lock_store(redis_url: str, timeout_seconds: float) -> dict[str, object]:
    """Rasa's Redis lock store, with tickets renewed by their holder (``lock_store.py``), from ``REDIS_URL``.

    It takes host, port and db, not a URL. ``socket_timeout`` bounds connecting and every
    reply (redis-py uses it for both).
    """
    parsed = urlsplit(redis_url)
    config: dict[str, object] = {
        "type": LOCK_STORE,
        "url": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 6379,
        "db": int(parsed.path.strip("/") or 0),
        "key_prefix": "support",
        "socket_timeout": timeout_seconds,
    }
    if parsed.password:
        config["password"] = parsed.password
    if parsed.scheme == "rediss":
        config["use_ssl"] = True
    return config


def rasa_children(
    model: Path, endpoints: Path, ports: Ports, env: dict[str, str]
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name -> (command, environment) of each Rasa server; each has its own port, hence its own instance id.

    Several servers use several cores: the Telegram inbox lets whichever has a free turn
    slot run an update, whichever server received it (one Python process runs one core).
    """
    children = {}
    for index, port in enumerate(ports.rasa_ports):
        command = commands(model, endpoints, replace(ports, rasa=port))["rasa"]
        children["rasa" if index == 0 else f"rasa-{index}"] = (command, {**env, "RASA_PORT": str(port)})
    return children


def process_environment(settings: Settings, ports: Ports) -> dict[str, str]:
    if ports.rasa_instances > 1 and not settings.redis_url:
        raise ValueError(
            f"RASA_INSTANCES={ports.rasa_instances} needs REDIS_URL: the Rasa servers must share one conversation lock"
        )
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", settings.database_url)
    env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    env["RASA_PORT"] = str(ports.rasa)  # with the host, the instance id a restarted server claims its work back by
    env["RASA_INSTANCES"] = str(ports.rasa_instances)  # each server decides on its NLU child by it (`bench` sets ports)
    env["SANIC_HOST"] = ports.actions_host  # rasa_sdk reads its interface from here (default 0.0.0.0)
    return env


def commands(model: Path, endpoints: Path, ports: Ports) -> dict[str, list[str]]:
    rasa = [sys.executable, "-m", "bot.runtime.launch", "rasa"]  # Rasa's CLI, with log masking installed
    logging_config = ["--logging-config-file", str(logs.LOG_CONFIG)]
    return {
        "actions": [
            *rasa, "run", "actions", "--actions", "bot.actions", "--port", str(ports.actions), *logging_config,
        ],
        "rasa": [
            *rasa, "run", *logging_config,
            "--model", str(model),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--endpoints", str(endpoints),
            "--interface", ports.rasa_host,
            "--port", str(ports.rasa),
            *(["--cors", *ports.cors_origins] if ports.cors_origins else []),
        ],
        "desk": [sys.executable, "-m", "bot.desk", "--port", str(ports.desk), *logging_config],
    }  # fmt: skip


def readiness_urls(ports: Ports) -> dict[str, str]:
    """Where each process says it is ready (the action server has only rasa_sdk's ``/health``)."""
    rasa = {
        "rasa" if index == 0 else f"rasa-{index}": f"http://{_local(ports.rasa_host)}:{port}/readyz"
        for index, port in enumerate(ports.rasa_ports)
    }
    return {
        "actions": f"http://{_local(ports.actions_host)}:{ports.actions}/health",
        **rasa,
        "desk": f"http://{_local(ports.desk_host)}:{ports.desk}/readyz",
    }


def _local(host: str) -> str:
    """The address to reach a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass
class Child:
    """One supervised process: restarted with back-off when it dies, so one crash never stops the stack."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self, now: float) -> None:
        """Restart a child that exited: at once after a long run, then 1, 2, 4 ... up to 30 s."""
        if self.process is None or self.process.poll() is None:
            return
        if self.restart_at is None:
            self.failures = 0 if now - self.started_at > STABLE_SECONDS else self.failures + 1
            delay = min(2.0 ** (self.failures - 1), 30.0) if self.failures else 0.0
            self.restart_at = now + delay
            print(f"{self.name} exited with {self.process.returncode}; restarting in {delay:.0f}s", file=sys.stderr)
        if now >= self.restart_at:
            self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


STABLE_SECONDS = 60.0  # a child that ran this long before dying is restarted without delay
REPORT_SECONDS = 30.0  # how often the supervisor says what it still waits for


def upgrade_database(env: dict[str, str]) -> None:
    """The schema at its newest revision before any child starts; a failed upgrade starts nothing.

    Done here, once, with the upgrade's long statement limit (``bot.migrate``), rather than
    by the children's stores, whose statements are limited for serving requests.
    """
    if subprocess.run([sys.executable, "-m", "bot.migrate"], cwd=PROJECT_ROOT, env=env).returncode != 0:
        sys.exit("The database upgrade failed (see above); nothing was started.")


def main() -> None:
    load_env_file()
    require_valid_environment()
    settings = Settings.from_env()
    ports = Ports.from_env()
    logs.log_format()  # a wrong LOG_FORMAT stops here, before anything starts
    if taken := taken_ports(ports):
        print("\n".join(taken), file=sys.stderr)
        sys.exit(INVALID_SETTINGS_STATUS)
    model = ensure_model()
    endpoints = write_endpoints(settings, ActionServerSettings.from_env().endpoint_url, PROJECT_ROOT / "var")
    env = process_environment(settings, ports)
    upgrade_database(env)
    every = commands(model, endpoints, ports)
    rasa = rasa_children(model, endpoints, ports, env)
    children = [
        Child("actions", every["actions"], env),
        *(Child(name, command, child_env) for name, (command, child_env) in rasa.items()),
        Child("desk", every["desk"], env),
    ]
    for child in children:
        child.start()
    print(f"\nSupport bot starting (model {model.name}); waiting until every process is ready.", flush=True)
    if not DeskSettings.from_env().agents:
        print(NO_AGENTS_HINT, flush=True)
    urls, ready = readiness_urls(ports), False
    reported_at = time.monotonic()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        now = time.monotonic()
        for child in children:
            child.check(now)
        if not ready:
            reasons = not_ready(urls)  # all at once: one that was ready may have died meanwhile
            ready = not reasons
            if ready:
                print(ready_banner(ports), flush=True)
                for name, notes in readiness_notes(urls).items():
                    print("\n".join(f"  Note ({name}): {note}" for note in notes), flush=True)
            elif now - reported_at >= REPORT_SECONDS:
                print("Still waiting for: " + "; ".join(f"{n} ({r})" for n, r in reasons.items()), flush=True)
                reported_at = now
        time.sleep(0.5)
    for child in children:
        child.stop()
    sys.exit(0)


def ready_banner(ports: Ports) -> str:
    rasa, desk = f"http://{_local(ports.rasa_host)}:{ports.rasa}", f"http://{_local(ports.desk_host)}:{ports.desk}"
    return (
        "\nSupport bot ready.\n"
        f"  Chat locally:   make chat   (or POST {rasa}/webhooks/rest/webhook)\n"
        f"  Agent desk:     {desk}/\n"
        f"  Metrics:        {rasa}/metrics  http://{_local(ports.actions_host)}:{ports.actions}/metrics"
        f"  {desk}/metrics\n"
        "  Stop:           Ctrl+C\n"
    )


if __name__ == "__main__":
    main()
