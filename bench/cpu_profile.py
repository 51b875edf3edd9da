"""CPU per customer message by component, and what the idle processes burn while polling.

How:
- The stack of `bench/live_stack.py` is started (actions under `bench.sql_timing`, Rasa with
  Telegram in webhook mode, desk), then left alone for 10 s: the CPU each process uses meanwhile
  (/proc/<pid>/stat) is its polling (desk: outbox dispatcher, live feed, agents' bot
  `getUpdates`; Rasa: the Telegram connector's sweeper; actions: nothing).
- The trained agent is loaded in this process the way `rasa run` loads it (`load_agent` with the
  stack's endpoints: the same SQLite tracker store, the running action server) and customer
  scripts (`bench/customers.py`) are played through `Agent.handle_message`, one message at a time.
  The real methods are wrapped with `time.process_time`/`time.perf_counter` timers: NLU
  (`MessageProcessor.parse_message`), the policies (`_predict_next_with_tracker`), tracker store
  reads and writes, and custom-action round trips (`RemoteAction.run`; within it the request
  body, the HTTP call and the response's schema check; the action server's own CPU comes from
  /proc, its SQL from `bench.sql_timing`). SQL in this process is timed through
  SQLAlchemy events (it is part of the tracker store figures). "other" is the rest of
  `handle_message`: events, slots, forms, response templating.
- The Telegram inbox's claim, which a worker repeats every 0.1 s while an earlier update of its
  chat is unfinished, is timed on a fresh SQLite file; likewise a message's whole inbox and
  outbox bookkeeping (store, claim, finish; two replies added, claimed, marked sent).
  The channel's own costs under load are in `bench/load.py` (CPU per message per process).

    python -m bench.cpu_profile [--messages-per-s RATE]    # `name: value` lines (about 2 minutes)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import sql_timing
from bench.customers import script
from bench.fake_bot_api import FakeBotApi
from bench.live_stack import LiveStack, live_stack, run_main, work_dir

IDLE_SECONDS = 10.0
WARM_UP, SCRIPTS = 5, 20


@dataclass
class Meter:
    calls: int = 0
    cpu: float = 0.0
    wall: float = 0.0


class Stages:
    """Timers around real methods; one message at a time, so a span's CPU is that stage's."""

    def __init__(self) -> None:
        self.meters: dict[str, Meter] = defaultdict(Meter)

    def _add(self, name: str, cpu0: float, wall0: float) -> None:
        meter = self.meters[name]
        meter.calls += 1
        meter.cpu += time.process_time() - cpu0
        meter.wall += time.perf_counter() - wall0

    def wrap_async(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self._add(name, cpu0, wall0)

        setattr(owner, attribute, timed)

    def wrap_sync(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(name, cpu0, wall0)

        setattr(owner, attribute, timed)


async def idle_cpu(stack: LiveStack, seconds: float) -> dict[str, float]:
    """ms of CPU per second each stack process uses while nothing happens."""
    before, started = stack.cpu(), time.perf_counter()
    await asyncio.sleep(seconds)
    after, elapsed = stack.cpu(), time.perf_counter() - started
    return {name: (after[name] - before[name]) * 1000 / elapsed for name in ("rasa", "desk", "actions")}


async def load_served_agent(stack: LiveStack) -> Any:  # rasa.core.agent.Agent
    """The model with the stack's endpoints file (tracker store, action server), as `rasa run` loads it."""
    os.environ.update({k: stack.env[k] for k in ("DATABASE_URL", "ACTION_ENDPOINT_URL")})
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.log_utils import configure_structlog

    from bot.runtime import action_calls

    configure_structlog(logging.WARNING)
    action_calls.install()  # as bot.runtime.launch does in the Rasa server
    endpoints = AvailableEndpoints.read_endpoints(str(stack.work / "var" / "endpoints.yml"))
    model = stack.command["rasa"][stack.command["rasa"].index("--model") + 1]
    return await load_agent(model_path=model, endpoints=endpoints)


def instrument(agent: Any) -> Stages:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    stages = Stages()
    processor = agent.processor
    stages.wrap_async(processor, "parse_message", "nlu_parse")
    stages.wrap_sync(processor, "_predict_next_with_tracker", "policy_prediction")
    store = processor.tracker_store
    stages.wrap_async(store, "retrieve", "tracker_store_read")
    stages.wrap_async(store, "retrieve_full_tracker", "tracker_store_read")
    stages.wrap_async(store, "save", "tracker_store_write")
    stages.wrap_async(RemoteAction, "run", "action_server_round_trip")
    # inside the round trip: the request body (tracker and domain), the HTTP call, the response's schema check
    stages.wrap_sync(RemoteAction, "_action_call_format", "action_call.payload")
    stages.wrap_async(EndpointConfig, "request", "action_call.http")
    stages.wrap_sync(RemoteAction, "_validate_action_result", "action_call.response_validation")
    stages.wrap_async(agent, "handle_message", "handle_message")
    return stages


async def play(agent: Any, scripts: range, prefix: str) -> int:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    messages = 0
    for number in scripts:
        for text in script(number):
            await agent.handle_message(UserMessage(text, CollectingOutputChannel(), f"rest:{prefix}-{number}",
                                                   input_channel="rest"))
            messages += 1
    return messages


def connector_bookkeeping(work: Path) -> dict[str, str]:
    """CPU of the Telegram inbox's claim and of one message's inbox/outbox rows, on SQLite, as a turn does them."""
    from bot.cases.database import make_engine
    from bot.cases.instances import Instance
    from connectors.telegram.storage import SENT, Inbox, Outbox

    engine = make_engine(f"sqlite:///{work / 'connector.db'}")
    instance = Instance(engine, "profile:1")
    instance.register()
    inbox, outbox = Inbox(engine, instance), Outbox(engine, instance)
    payload = {"message": {"text": "my withdrawal is stuck"}}
    inbox.store(1, "42", payload)
    inbox.store(2, "42", payload)
    started, polls = time.process_time(), 200
    for _ in range(polls):
        inbox.claim(2)  # waits behind update 1, as a chat's later update does
    claim_ms = (time.process_time() - started) * 1000 / polls
    started, messages = time.process_time(), 100
    replies = [{"kind": "text", "text": "a"}, {"kind": "text", "text": "b"}]
    for update_id in range(10, 10 + messages):
        inbox.store(update_id, f"c{update_id}", payload)
        inbox.claim(update_id)
        outbox.add(update_id, update_id, replies, first_seq=0, keys=["utter_a", "utter_b"])
        inbox.finish(update_id)
        for item in outbox.due(update_id):
            outbox.claim([item.id])
            outbox.mark([item.id], SENT, message_id=item.id)
    per_message = (time.process_time() - started) * 1000 / messages
    engine.dispose()
    return {
        "profile.telegram_inbox_claim": f"{claim_ms:.2f} ms CPU per claim of an update waiting for its chat",
        "profile.telegram_inbox_outbox_rows": f"{per_message:.1f} ms CPU/msg (store, claim, record 2 replies, "
                                             "finish, send bookkeeping)",
    }


async def run_profile(print_line: Callable[[str, str], None], messages_per_s: float | None = None) -> dict[str, str]:
    """Every figure above; ``messages_per_s`` (e.g. a saturated throughput) turns polling into ms per message."""
    results: dict[str, str] = {}

    def emit(name: str, value: str) -> None:
        results[name] = value
        print_line(name, value)

    with work_dir("bench-profile-") as work:
        sql_file = work / "actions-sql.json"
        async with FakeBotApi() as fake, live_stack(work, fake, sql_timing=sql_file) as stack:
            await asyncio.sleep(3.0)  # the desk's and the channel's start-up work
            idle = await idle_cpu(stack, IDLE_SECONDS)
            for name, rate in idle.items():
                per_message = f"; {rate / messages_per_s:.1f} ms/msg at {messages_per_s:.1f} msgs/s" \
                    if messages_per_s else ""
                emit(f"profile.idle_polling.{name}", f"{rate:.1f} ms CPU per second{per_message}")
            agent = await load_served_agent(stack)
            sql = sql_timing.install()
            await play(agent, range(100, 100 + WARM_UP), "warm")
            stages = instrument(agent)
            actions_cpu, actions_sql, rasa_sql = stack.cpu()["actions"], sql_timing.read(sql_file), sql.cpu
            rasa_sql_wall = sql.wall
            messages = await play(agent, range(SCRIPTS), "profile")
            await asyncio.sleep(1.0)  # the action server's SQL totals are written twice a second
            actions_cpu = stack.cpu()["actions"] - actions_cpu
            actions_sql_now = sql_timing.read(sql_file)
        meters = stages.meters
        total = meters["handle_message"]
        parts = ("nlu_parse", "policy_prediction", "tracker_store_read", "tracker_store_write",
                 "action_server_round_trip")
        for name in (*parts, "action_call.payload", "action_call.http", "action_call.response_validation"):
            m = meters[name]
            emit(f"profile.{name}", f"{m.cpu * 1000 / messages:.1f} ms CPU/msg "
                 f"({m.wall * 1000 / messages:.1f} ms wall, {m.calls / messages:.1f} calls/msg)")
        other = total.cpu - sum(meters[n].cpu for n in parts)
        emit("profile.other_dialogue", f"{other * 1000 / messages:.1f} ms CPU/msg (events, forms, slots, templates)")
        emit("profile.rasa_total", f"{total.cpu * 1000 / messages:.1f} ms CPU/msg ({total.wall * 1000 / messages:.1f}"
             f" ms wall; {messages} messages, one at a time)")
        emit("profile.sql_in_rasa", f"{(sql.cpu - rasa_sql) * 1000 / messages:.1f} ms CPU/msg "
             f"({(sql.wall - rasa_sql_wall) * 1000 / messages:.1f} ms wall; inside the tracker store figures)")
        emit("profile.action_server_process", f"{actions_cpu * 1000 / messages:.1f} ms CPU/msg")
        emit("profile.sql_in_action_server", f"{(actions_sql_now.cpu - actions_sql.cpu) * 1000 / messages:.1f} ms "
             f"CPU/msg ({(actions_sql_now.wall - actions_sql.wall) * 1000 / messages:.1f} ms wall, "
             f"{(actions_sql_now.statements - actions_sql.statements) / messages:.1f} statements/msg)")
        for name, value in connector_bookkeeping(work).items():
            emit(name, value)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages-per-s", type=float, help="also state the idle polling per message at this rate")
    rate = parser.parse_args().messages_per_s
    run_main(lambda: run_profile(lambda name, value: print(f"{name}: {value}", flush=True), rate))


if __name__ == "__main__":
    main()
