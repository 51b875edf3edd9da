"""A whole `make run` session with both Telegram bots configured: ready, counted, JSON-logged, no token.

Runs ``python -m bot.runtime.stack`` (what `make run` runs) against a fake Bot API on
loopback: the customer bot polls and answers a P1, the agents' bot polls and posts the
alert, a 429 and a failing webhook exercise the error paths. The supervisor says "ready"
only once every process is; each process's /metrics counts what happened; every log line
of the three processes is JSON carrying its process, and the P1's lines carry the update's
id in both Rasa processes. Then the desk is killed: the stack starts it again and keeps the
rest running. No line holds either token, their secret halves or the X secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from bot.runtime.model import ensure_model
from bot.runtime.server_settings import nlu_in_child_process
from bot.settings import PROJECT_ROOT
from tests.auxil.fake_telegram import FakeTelegram, private_message
from tests.auxil.metrics import total, value
from tests.auxil.processes import children_of
from tests.auxil.rasa_stack import free_port
from tests.auxil.waiting import until

pytestmark = pytest.mark.slow
CUSTOMER_TOKEN = "7012345678:AAF1kq9ZxY3bV7nT0pLmW2cR5sD8eH4jKuQ"
AGENT_TOKEN = "7098765432:AAH5yT2wQ9eR1tY6uI3oP8aS4dF7gJ0kLzX"
ALERT_SECRET = "whsec_5b1d0c7e9f2a4c6b8d0e"
CHAT, GROUP = 5551234, -1005550000
START_SECONDS = 240.0
AGENT_POLL_SECONDS = 2  # the agents' bot's long poll, short so a whole cycle is seen soon
RESTART_SECONDS = 60.0


def desk_answers(port: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


async def test_a_full_session_logs_no_token(tmp_path):
    await asyncio.to_thread(ensure_model)
    log_path = tmp_path / "stack.log"
    ports = {"rasa": free_port(), "actions": free_port(), "desk": free_port()}
    async with FakeTelegram() as fake:
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'support.db'}",
            "REDIS_URL": "",
            "LOG_FORMAT": "json",
            "RASA_PORT": str(ports["rasa"]),
            "ACTIONS_PORT": str(ports["actions"]),
            "DESK_PORT": str(ports["desk"]),
            "TELEGRAM_BOT_TOKEN": CUSTOMER_TOKEN,
            "TELEGRAM_AGENT_BOT_TOKEN": AGENT_TOKEN,
            "TELEGRAM_AGENT_CHAT_ID": str(GROUP),
            "TELEGRAM_AGENT_IDS": "4242",
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_POLL_TIMEOUT_SECONDS": "1",
            "TELEGRAM_AGENT_POLL_TIMEOUT_SECONDS": str(AGENT_POLL_SECONDS),
            "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/nobody-listens",
            "ALERT_WEBHOOK_SECRET": ALERT_SECRET,
        }
        env.pop("ACTION_ENDPOINT_URL", None)
        with log_path.open("w") as log:
            stack = subprocess.Popen(
                [sys.executable, "-m", "bot.runtime.stack"], cwd=PROJECT_ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            await until(lambda: "Support bot ready." in log_path.read_text(errors="replace"), START_SECONDS)
            polled = lambda token: [c for c in fake.calls_to("getUpdates") if c.token == token]  # noqa: E731
            assert polled(CUSTOMER_TOKEN) and polled(AGENT_TOKEN), "ready: both pollers hold their leases"
            fake.rate_limit(retry_after=1, chat_id=CHAT)
            start = fake.queue_update({"message": private_message(CHAT, "/start", message_id=1)}, token=CUSTOMER_TOKEN)
            report = fake.queue_update(
                {"message": private_message(CHAT, "someone hacked my account and withdrew all my BTC", message_id=2)},
                token=CUSTOMER_TOKEN,
            )
            alert = lambda: [c for c in fake.calls_to("sendMessage", GROUP) if c.token == AGENT_TOKEN]  # noqa: E731
            await until(alert, START_SECONDS)
            await until(lambda: len(fake.sent_texts(CHAT)) >= 2, 60)
            count = len(polled(AGENT_TOKEN))
            # one more whole polling cycle of the agents' bot logged
            await until(lambda: len(polled(AGENT_TOKEN)) >= count + 1, AGENT_POLL_SECONDS + 10)
            scrapes = {name: await asyncio.to_thread(_scrape, port) for name, port in ports.items()}

            before = children_of(stack.pid)
            (desk,) = (pid for pid, command in before.items() if "-m bot.desk" in command)
            rasa = {pid for pid, command in before.items() if "rasa run" in command}
            os.kill(desk, signal.SIGKILL)
            new_desk = lambda: [p for p, c in children_of(stack.pid).items() if "-m bot.desk" in c and p != desk]  # noqa: E731
            await until(new_desk, RESTART_SECONDS)
            await until(lambda: desk_answers(env["DESK_PORT"]), RESTART_SECONDS)
            assert stack.poll() is None, "a dead child does not stop the stack"
            assert rasa <= set(children_of(stack.pid)), "the other processes kept running"
        finally:
            os.killpg(stack.pid, signal.SIGINT)
            try:
                await asyncio.to_thread(stack.wait, 60)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
    logged = log_path.read_text(errors="replace")
    assert "Support bot starting" in logged and len(logged.splitlines()) > 20, logged[-3000:]
    assert "desk exited with -9; restarting in" in logged
    assert logged.index("Support bot starting") < logged.index("Support bot ready.")
    _assert_counted(scrapes)
    _assert_json_lines(logged, f"tg-{start['update_id']}", f"tg-{report['update_id']}", nlu_in_child_process(env))
    halves = [token.split(":")[1] for token in (CUSTOMER_TOKEN, AGENT_TOKEN)]
    for secret in (CUSTOMER_TOKEN, AGENT_TOKEN, ALERT_SECRET, *halves):
        assert secret not in logged, f"{secret[:12]}… is in the stack's log"


def _scrape(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def _assert_counted(scrapes: dict[str, str]) -> None:
    rasa, actions, desk = scrapes["rasa"], scrapes["actions"], scrapes["desk"]
    assert value(rasa, "support_messages_received_total", channel="telegram") >= 2  # /start and the report
    assert value(rasa, "support_messages_sent_total", channel="telegram", sender="bot") >= 2
    assert value(rasa, "support_nlu_parse_seconds_count") >= 2 and value(rasa, "support_nlu_parse_seconds_sum") > 0
    assert value(actions, "support_escalations_total", priority="P1") == 1
    assert total(actions, "support_action_calls_total", outcome="ok") >= 1
    assert total(rasa, "support_nlu_intents_total") == value(rasa, "support_nlu_parse_seconds_count")
    assert value(desk, "support_database_up") == 1
    assert value(desk, "support_lease_held", lease="telegram_poller") == 1
    assert value(desk, "support_lease_held", lease="agents_group_poller") == 1
    assert value(desk, "support_cases_waiting", priority="P1") == 1
    assert value(desk, "support_outbox_depth", destination="webhook") >= 1, "the webhook nobody listens to"


def _assert_json_lines(logged: str, start_id: str, report_id: str, nlu_process: bool) -> None:
    """Every process writes JSON (the Rasa server's NLU process too); lines about an update carry its id."""
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    services = {"migrate", "rasa", "actions", "desk"} | ({"rasa-nlu"} if nlu_process else set())
    assert {line["service"] for line in lines} == services  # make run migrates first
    opened = [line for line in lines if line["service"] == "actions" and line["message"].startswith("opened P1 case")]
    assert [line["request_id"] for line in opened] == [report_id], opened
    limited = [line for line in lines if line["service"] == "rasa" and "Telegram asked to wait" in line["message"]]
    assert limited and limited[0]["request_id"] in (start_id, report_id), "the 429 hit a reply of one of them"
