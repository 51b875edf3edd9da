"""The real stack for end-to-end benchmarks: action server, Rasa server and agent desk on 127.0.0.1.

The three commands are `bot.runtime.stack.commands()`, the ones `make run` starts, each in its
own process group on free ports, with a fresh SQLite file and both Telegram bots pointed at a
fake Bot API: the customer bot in webhook mode (updates are POSTed to Rasa's webhook), the
agents' bot polling as in production. The Rasa server alone can be killed with SIGKILL and
started again with the same command line. Every process is stopped when the block ends, also
on error.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bench.fake_bot_api import FakeBotApi
from bot.runtime.model import ensure_model
from bot.runtime.stack import Ports, commands, process_environment, rasa_children, write_endpoints
from bot.settings import PROJECT_ROOT, Settings
from tests.auxil.fake_telegram import agent_group_message
from tests.auxil.processes import children_of
from tests.auxil.rasa_stack import free_port

CUSTOMER_TOKEN = "7011112222:bench-customer-bot"
AGENT_TOKEN = "7033334444:bench-agents-bot"
WEBHOOK_SECRET = "bench-webhook-secret"
AGENT_GROUP = -1009990001
AGENT_USER = 4242
START_SECONDS = 300.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process and its live children (a Rasa server's NLU process), from /proc."""
    return _own_cpu_seconds(pid) + children_cpu_seconds(pid)


def children_cpu_seconds(pid: int) -> float:
    """The same of the live children alone."""
    return sum(_own_cpu_seconds(child) for child in children_of(pid))


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # exited meanwhile
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


@dataclass
class LiveStack:
    """The running processes and where to reach them."""

    work: Path
    fake: FakeBotApi
    ports: Ports
    env: dict[str, str]
    command: dict[str, list[str]]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    starts: int = 0
    child_env: dict[str, dict[str, str]] = field(default_factory=dict)  # a Rasa server's own RASA_PORT

    @property
    def rasa_url(self) -> str:
        """The first Rasa server: the one Telegram's webhook reaches, as `make run` publishes one port."""
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports.rasa_ports]

    @property
    def rasa_names(self) -> list[str]:
        return [name for name in self.command if name.startswith("rasa")]

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/telegram/webhook"

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        """Every Rasa server's Telegram webhook."""
        return tuple(f"{url}/webhooks/telegram/webhook" for url in self.rasa_urls)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process (this one included, as "bench").

        A Rasa server's figure includes its NLU child's; ``<server>:nlu_child`` gives the child's alone.
        """
        used = {name: cpu_seconds(p.pid) for name, p in self.processes.items() if p.poll() is None}
        for name in self.rasa_names:
            if name in used:
                used[f"{name}:nlu_child"] = children_cpu_seconds(self.pid(name))
        used["bench"] = time.process_time()
        return used

    def start(self, name: str) -> None:
        self.starts += 1
        log = (self.work / f"{name}-{self.starts}.log").open("w")
        self.processes[name] = subprocess.Popen(
            self.command[name], cwd=PROJECT_ROOT, env=self.child_env.get(name, self.env),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()

    def kill_rasa(self) -> None:
        """SIGKILL the Rasa server (its whole process group) and reap it."""
        process = self.processes["rasa"]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    async def wait_ready(self, name: str, url: str, timeout: float = START_SECONDS) -> float:
        """Poll ``url`` until it answers 200; returns the time.perf_counter() of that answer."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with {self.processes[name].returncode}; see {self.work}")
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                        if response.status == 200:
                            return time.perf_counter()
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{name} not ready at {url} after {timeout:.0f} s; logs in {self.work}")

    async def wait_telegram(self, registrations: int, timeout: float = 60.0) -> None:
        """Wait until the customer bot registered its webhook ``registrations`` times in all."""
        deadline = time.monotonic() + timeout
        while len(self.fake.registered_webhooks) < registrations:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no setWebhook from the Rasa server after {timeout:.0f} s; logs in {self.work}")
            await asyncio.sleep(0.05)

    async def agent_on_duty(self, timeout: float = 60.0) -> None:
        """An agent says /onduty in the agents' group, as at the start of a shift.

        With nobody on duty the desk tells each customer whose case opens so, a reply outside
        the bot's turn; a benchmark measures the staffed case.
        """
        ann = {"id": AGENT_USER, "is_bot": False, "first_name": "Ann", "username": "ann_bench"}
        self.fake.queue_update(agent_group_message(AGENT_GROUP, ann, "/onduty", message_id=1), token=AGENT_TOKEN)
        deadline = time.monotonic() + timeout
        while not any("on duty" in c.params.get("text", "") for c in self.fake.calls_to("sendMessage", AGENT_GROUP)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the agents' bot did not confirm /onduty in {timeout:.0f} s; logs in {self.work}")
            await asyncio.sleep(0.05)

    def log_lines(self, name: str, needle: str) -> int:
        """How many lines of ``name``'s logs (every start) contain ``needle``."""
        return sum(
            sum(needle in line for line in path.open(errors="replace")) for path in self.work.glob(f"{name}-*.log")
        )

    def stop(self) -> None:
        """Rasa first (it calls the others), then the desk, then the action server."""
        for name in (*self.rasa_names, "desk", "actions"):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory for one run's database and logs; kept (and named on stderr) with BENCH_KEEP=1."""
    if os.environ.get("BENCH_KEEP"):
        path = Path(tempfile.mkdtemp(prefix=prefix))
        print(f"{prefix}: logs and database kept in {path}", file=sys.stderr)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1 (Rasa servers sit on consecutive ports)."""
    while True:
        first = free_port()
        if all(_port_is_free(first + offset) for offset in range(1, count)):
            return first


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stack_environment(work: Path, fake: FakeBotApi, ports: Ports, **extra: str) -> tuple[dict[str, str], Path]:
    """The processes' environment (a fresh SQLite file in ``work``) and the endpoints file."""
    overrides = {
        "DATABASE_URL": f"sqlite:///{work / 'support.db'}",
        "REDIS_URL": "",
        "PYTHONPATH": str(PROJECT_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TELEGRAM_BOT_TOKEN": CUSTOMER_TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{ports.rasa}/webhooks/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_ATTACHMENT_DIR": str(work / "attachments"),
        "TELEGRAM_AGENT_BOT_TOKEN": AGENT_TOKEN,
        "TELEGRAM_AGENT_CHAT_ID": str(AGENT_GROUP),
        "TELEGRAM_AGENT_IDS": str(AGENT_USER),
        **extra,
    }
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        settings = Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    env = process_environment(settings, ports)
    env.update(overrides)
    env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{ports.actions}/webhook"
    return env, write_endpoints(settings, env["ACTION_ENDPOINT_URL"], work / "var")


@asynccontextmanager
async def live_stack(
    work: Path,
    fake: FakeBotApi,
    *,
    desk: bool = True,
    sql_timing: Path | None = None,
    instances: int = 1,
    **extra: str,
) -> AsyncIterator[LiveStack]:
    """Start actions, Rasa (and the desk), wait until each answers; stop them all when the block ends.

    With ``sql_timing`` the action server runs under `bench.sql_timing`, which writes its SQL totals there.
    ``instances`` Rasa servers run as `make run` runs them with ``RASA_INSTANCES`` (on Redis, REDIS_URL or
    the local one).
    """
    model = await asyncio.to_thread(ensure_model)
    ports = Ports(rasa=free_ports(instances), actions=free_port(), desk=free_port(), rasa_host="127.0.0.1",
                  rasa_instances=instances)
    if instances > 1:
        extra = {"REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", **extra}
    env, endpoints = stack_environment(work, fake, ports, **extra)
    command = commands(model, endpoints, ports)
    servers = rasa_children(model, endpoints, ports, env)
    command.update({name: server_command for name, (server_command, _) in servers.items()})
    if sql_timing is not None:  # [python, -m, bot.runtime.launch, rasa, ...] -> [..., bench.sql_timing, OUT, rasa, ...]
        command["actions"] = [*command["actions"][:2], "bench.sql_timing", str(sql_timing), *command["actions"][3:]]
    stack = LiveStack(work, fake, ports, env, command, child_env={name: e for name, (_, e) in servers.items()})
    try:
        stack.start("actions")
        await stack.wait_ready("actions", f"http://127.0.0.1:{ports.actions}/health")
        for name, url in zip(stack.rasa_names, stack.rasa_urls, strict=True):  # one by one: loading is CPU-bound
            stack.start(name)
            await stack.wait_ready(name, f"{url}/webhooks/rest/")
        await stack.wait_telegram(instances)
        if desk:  # after Rasa: both create tables in the same SQLite file
            stack.start("desk")
            await stack.wait_ready("desk", f"http://127.0.0.1:{ports.desk}/")
            await stack.agent_on_duty()
        yield stack
    finally:
        stack.stop()  # blocking on purpose: a second cancellation must not cut it short


def run_main(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(main())`, where SIGTERM and SIGINT cancel the run, so started processes are stopped.

    (A job started in the background by a non-interactive shell ignores SIGINT; SIGTERM works always.)
    """

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        return await main()

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        raise SystemExit("stopped by a signal; every process it started was stopped") from None
