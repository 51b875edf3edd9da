"""End-to-end load on the real stack: REST and Telegram throughput and first-reply latency, P1 alerts.

What runs: the three processes `make run` starts (`bench/live_stack.py`), on a fresh SQLite
file, the customer bot in Telegram webhook mode against a fake Bot API on 127.0.0.1, the
agents' bot polling it. This process is the customers, Telegram and the agents' group at once.

How it is measured:
- Each chat plays its own scripted conversation (`bench/customers.py`), a new conversation when
  the script ends. **Closed loop with think time**: a chat sends its next message 1 s after the
  previous turn's last reply arrived (REST: the response, which carries all the turn's replies;
  Telegram: the turn's last reply at the fake Bot API). Waiting for the whole turn keeps
  replies attributable: the next turn's first reply is never confused with the previous
  turn's last one. 1, 10 and 100
  concurrent chats, 20 s each; then every chat finishes its turn (bounded).
- **Open loop**: 100 chats, each sending every 3 s (33 msg/s offered) whatever came back, 20 s;
  the answered rate shows where the stack saturates.
- How many replies each Telegram turn gets is learnt from the REST points, which run first with
  the same scripts. Replies are counted by paragraph on both: Rasa's REST channel makes each
  paragraph its own reply, the Telegram connector sends a turn's replies as one message. A
  Telegram chat whose reply count then differs is reported (`reply_count_mismatches`).
- Two stacks: 1 and 10 chats (latency); 100 chats and the open loop (throughput). Both run
  `make run`'s default, one Rasa server, which on this 2-core machine parses in its NLU child
  and so uses both cores; `--instances 2` runs the throughput points on two servers
  (`RASA_INSTANCES=2` on the local Redis, no NLU children then, Telegram's updates POSTed to
  their webhooks in turn), which answered as much here (README, session 21). The bot's
  Telegram send budget (`TELEGRAM_OVERALL_SENDS_PER_SECOND`, Telegram's 30 a second by
  default, counted together by several servers) caps what the Telegram path can answer. A
  third stack measures the 100-chat Telegram point past that cap, its bot paying for
  broadcasts (`TELEGRAM_PAID_SENDS_PER_SECOND`, up to Telegram's 1,000 a second in all):
  what the machine itself allows (`telegram.c100_paid.*`, the share of sends that were paid,
  its reply counts learnt from the second stack's REST points).
- Throughput: turns whose first reply arrived inside the window, per second. Latency: message
  sent (REST request / webhook POST) to the first reply, p50/p99 over the turns sent in the window.
- CPU per answered message of each process (/proc/<pid>/stat) over each 100-chat point; the
  Bot API calls per Telegram message; custom-action calls that failed (Rasa logs each one and
  goes on without the action: those turns lose replies).
- P1 alert latency: a Telegram customer's theft report (webhook POST) until the agents' bot
  posts the alert to the group at the fake Bot API; on the idle stack, and again after the
  closed-loop points (their cases' alerts still queued: Telegram allows a bot ~20 messages a
  minute in a group). An agent is on duty throughout (`/onduty` in the group at the start).

    python -m bench.load             # all of it, `name: value` lines (about 5 minutes)
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np

from bench.customers import p1_message, script
from bench.fake_bot_api import FakeBotApi
from bench.live_stack import AGENT_GROUP, AGENT_TOKEN, CUSTOMER_TOKEN, LiveStack, live_stack, run_main, work_dir
from bench.traffic import Conversation, RestClient, TelegramLine, Turn, attribute
from connectors.telegram.settings import MAX_SENDS_PER_SECOND_WITH_PAID_BROADCASTS, TelegramSettings
from tests.auxil.databases import postgres_database

WINDOW = 20.0
THINK = 1.0
LATENCY_CHATS, THROUGHPUT_CHATS = (1, 10), (100,)
OPEN_CHATS, OPEN_PERIOD = 100, 3.0
DRAIN = 90.0  # longest wait for the turns still open when a closed-loop window ends
OPEN_DRAIN = 30.0  # the same after the open-loop window (its backlog is not waited out)
STALL = 15.0  # a Telegram turn short of replies for this long is given up
ACTION_FAILED = "Failed to run custom action"
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")
Expected = dict[tuple[int, int], int]  # (script, turn index) -> replies


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def figures(name: str, turns: list[Turn], start: float, seconds: float) -> dict[str, str]:
    """Throughput in the window, first-reply latency, and how many turns were sent and answered."""
    firsts = [(t.first, t.sent) for t in turns if t.first is not None]
    in_window = sum(1 for first, _ in firsts if start <= first <= start + seconds)
    latencies = [(first - sent) * 1000 for first, sent in firsts]
    out = {
        f"{name}.throughput_msgs_per_s": f"{in_window / seconds:.2f}",
        f"{name}.first_reply_ms_p50": f"{percentile(latencies, 50):.0f}",
        f"{name}.first_reply_ms_p99": f"{percentile(latencies, 99):.0f}",
        f"{name}.turns_sent": str(len(turns)),
        f"{name}.turns_answered": str(len(firsts)),
    }
    errors = [t.error for t in turns if t.error]
    if errors:
        out[f"{name}.errors"] = f"{len(errors)} ({', '.join(sorted(set(errors)))})"
    return out


def cpu_per_message(
    name: str, before: dict[str, float], after: dict[str, float], answered: int, seconds: float
) -> dict[str, str]:
    """CPU ms per answered message of each process, and the cores each kept busy over ``seconds``."""
    used = {p: after[p] - before[p] for p in after if p in before}
    return {
        f"{name}.cpu_ms_per_msg": ", ".join(f"{p} {cpu * 1000 / max(answered, 1):.0f}" for p, cpu in used.items()),
        f"{name}.cpu_cores_busy": ", ".join(f"{p} {cpu / seconds:.2f}" for p, cpu in used.items()),
    }


def bot_api_calls(name: str, fake: FakeBotApi, since: int, answered: int) -> dict[str, str]:
    """The customer bot's Bot API calls per answered message, by method, since call number ``since``; how many
    of its messages went as paid broadcasts, when any did (they cost Telegram Stars)."""
    calls = [c for c in fake.calls[since:] if c.token == CUSTOMER_TOKEN]
    methods = Counter(c.method for c in calls)
    per = ", ".join(f"{m} {n / max(answered, 1):.1f}" for m, n in methods.most_common())
    out = {f"{name}.bot_api_calls_per_msg": per}
    if paid := sum(c.paid_broadcast for c in calls):
        messages = sum(methods[m] for m in ("sendMessage", "sendPhoto", "sendDocument"))
        out[f"{name}.paid_broadcasts"] = f"{paid} of {messages} messages sent"
    return out


async def bounded(coroutines: list[Coroutine[Any, Any, Any]], seconds: float) -> None:
    """Run them together; whatever is still running after ``seconds`` is cancelled (its turns stay unanswered)."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def learn(expected: Expected, number: int, index: int, turn: Turn) -> Turn:
    """Keep how many replies turn ``index`` of script ``number`` got over REST (Telegram expects as many)."""
    if turn.error is None and turn.first is not None:
        expected[(number, index)] = turn.received
    return turn


def chat_id(run: int, number: int, cycle: int) -> int:
    """A Telegram chat id per (benchmark point, chat, conversation): every conversation is a new customer."""
    return 10_000_000 + run * 1_000_000 + number * 1_000 + cycle


# ---------------------------------------------------------------- REST
async def rest_closed(rest: RestClient, expected: Expected, chats: int, name: str) -> dict[str, str]:
    turns: list[Turn] = []
    start = time.perf_counter()

    async def chat(number: int) -> None:
        lines, index, conversation = script(number), 0, Conversation()
        while time.perf_counter() < start + WINDOW:
            if index == len(lines):
                index, conversation = 0, Conversation()
            turns.append(turn := Turn(number, time.perf_counter()))
            learn(expected, number, index, await rest.turn(conversation, lines[index], turn))
            index += 1
            await asyncio.sleep(THINK)

    await bounded([chat(n) for n in range(chats)], WINDOW + DRAIN)
    return figures(name, turns, start, WINDOW)


async def rest_open(rest: RestClient, expected: Expected, name: str) -> dict[str, str]:
    """Each chat's messages are due every OPEN_PERIOD s whether or not the last one was answered.

    A REST client keeps a conversation's order by sending the next message after the previous
    answer (the server names the conversation in the first one), so a message that is due while
    the previous is unanswered waits in the client; its latency counts from when it was due, as a
    Telegram update's counts from its POST while it waits in the connector's inbox.
    """
    turns: list[Turn] = []
    start = time.perf_counter()

    async def chat(number: int) -> None:
        lines, index, conversation = script(number), 0, Conversation()
        due = start + number * OPEN_PERIOD / OPEN_CHATS
        while due < start + WINDOW:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if index == len(lines):
                index, conversation = 0, Conversation()
            turns.append(turn := Turn(number, due))
            learn(expected, number, index, await rest.turn(conversation, lines[index], turn))
            index, due = index + 1, due + OPEN_PERIOD

    await bounded([chat(n) for n in range(OPEN_CHATS)], WINDOW + OPEN_DRAIN)
    return figures(name, turns, start, WINDOW)


# ---------------------------------------------------------------- Telegram
async def telegram_closed(line: TelegramLine, expected: Expected, chats: int, run: int, name: str) -> dict[str, str]:
    by_chat: dict[int, list[Turn]] = {}
    start = time.perf_counter()

    async def chat(number: int) -> None:
        lines, index, cycle = script(number), 0, 0
        while time.perf_counter() < start + WINDOW:
            if index == len(lines):
                index, cycle = 0, cycle + 1
            tg_chat = chat_id(run, number, cycle)
            turns = by_chat.setdefault(tg_chat, [])
            have = sum(t.expected or 0 for t in turns)
            turn = Turn(tg_chat, time.perf_counter(), expected.get((number, index)))
            turns.append(turn)
            status = await line.post(line.update(tg_chat, lines[index]))
            if status != 200:
                turn.error = f"webhook {status}"
            elif turn.expected is None:
                turn.error = "reply count unknown"
                await line.wait_replies(tg_chat, have + 1, start + WINDOW + DRAIN, quiet=3.0, since=turn.sent)
            else:
                await line.wait_replies(tg_chat, have + turn.expected, start + WINDOW + DRAIN, quiet=STALL,
                                        since=turn.sent)
            index += 1
            await asyncio.sleep(THINK)

    await bounded([chat(n) for n in range(chats)], WINDOW + DRAIN + THINK)
    return telegram_figures(name, line, by_chat, start)


async def telegram_open(line: TelegramLine, expected: Expected, run: int, name: str) -> dict[str, str]:
    by_chat: dict[int, list[Turn]] = {}
    start = time.perf_counter()

    async def post(turn: Turn, update: dict) -> None:
        status = await line.post(update)
        if status != 200:
            turn.error = f"webhook {status}"

    async def chat(number: int) -> None:
        lines, index, cycle = script(number), 0, 0
        due = start + number * OPEN_PERIOD / OPEN_CHATS
        posts = []
        while (now := time.perf_counter()) < start + WINDOW:
            await asyncio.sleep(max(0.0, due - now))
            due += OPEN_PERIOD
            if index == len(lines):
                index, cycle = 0, cycle + 1
            tg_chat = chat_id(run, number, cycle)
            turn = Turn(tg_chat, time.perf_counter(), expected.get((number, index)))
            by_chat.setdefault(tg_chat, []).append(turn)
            posts.append(asyncio.create_task(post(turn, line.update(tg_chat, lines[index]))))
            index += 1
        await asyncio.gather(*posts)

    await bounded([chat(n) for n in range(OPEN_CHATS)], WINDOW + 30)
    until = time.perf_counter() + OPEN_DRAIN
    for tg_chat, turns in by_chat.items():  # let the backlog drain (bounded) before attributing replies
        await line.wait_replies(tg_chat, sum(t.expected or 0 for t in turns), until, quiet=STALL)
    return telegram_figures(name, line, by_chat, start, drained=False)


def telegram_figures(
    name: str, line: TelegramLine, by_chat: dict[int, list[Turn]], start: float, drained: bool = True
) -> dict[str, str]:
    """Replies given to turns in order (see `attribute`); chats whose count differs from REST's are reported.

    With ``drained`` false (a backlog was left), a chat short of replies may still get them: only
    surplus replies count as a mismatch then.
    """
    mismatches = misplaced = 0
    for tg_chat, turns in by_chat.items():
        left_over = attribute(turns, line.replies[tg_chat])
        short = drained and any(t.first is not None and t.received < (t.expected or 0) for t in turns)
        if left_over or short:
            mismatches += 1
            print(f"{name}: chat {tg_chat} (script {tg_chat % 1_000_000 // 1_000}) expected "
                  f"{[t.expected for t in turns]}, got {len(line.replies[tg_chat])} replies: {line.texts[tg_chat]}",
                  file=sys.stderr)
        misplaced += sum(1 for t in turns if t.first is not None and t.first < t.sent)
    out = figures(name, [t for turns in by_chat.values() for t in turns], start, WINDOW)
    out[f"{name}.reply_count_mismatches"] = f"{mismatches} of {len(by_chat)} chats"
    if misplaced:
        out[f"{name}.replies_before_their_turn"] = str(misplaced)
    return out


# ---------------------------------------------------------------- P1 alerts
async def p1_alert_latency(
    stack: LiveStack, line: TelegramLine, samples: int, run: int, name: str, wait: float = 60.0
) -> dict[str, str]:
    """Theft report POSTed to the webhook -> the agents' bot sends the alert naming that case (within ``wait`` s)."""
    latencies = []
    for index in range(samples):
        tg_chat = chat_id(run, index, 0)
        sent, sent_monotonic = time.perf_counter(), time.monotonic()  # Call.at is time.monotonic()
        await line.post(line.update(tg_chat, p1_message(index)))
        await line.wait_replies(tg_chat, 1, sent + wait)
        found = next((m for t in line.texts[tg_chat] if (m := CASE_ID.search(t))), None)
        deadline = sent_monotonic + wait
        alert = None
        while found is not None and alert is None and time.monotonic() < deadline:
            alert = next((c for c in stack.fake.calls_to("sendMessage", AGENT_GROUP)
                          if c.token == AGENT_TOKEN and found.group() in c.params.get("text", "")), None)
            await asyncio.sleep(0.01)
        if alert is not None:
            latencies.append(alert.at - sent_monotonic)
        await asyncio.sleep(0.5)
    group = [c for c in stack.fake.calls_to("sendMessage", AGENT_GROUP) if c.token == AGENT_TOKEN]
    last_minute = sum(c.at > time.monotonic() - 60 for c in group)
    context = f"{len(latencies)}/{samples} within {wait:.0f} s; the agents' bot sent {last_minute} group messages " \
              f"in the last minute, {len(group)} in all"
    if len(latencies) < samples:
        return {f"{name}_s": f"> {wait:.0f} ({context})"}
    return {f"{name}_s": f"p50 {percentile(latencies, 50):.2f}, max {max(latencies):.2f} ({context})"}


# ---------------------------------------------------------------- the whole run
@dataclass(frozen=True)
class Phase:
    """One stack and the points measured on it."""

    servers: int
    chats: tuple[int, ...]
    under_load: bool  # also the open loop, CPU per message and the P1 alert after the closed-loop points
    paid: bool = False  # Telegram's closed loop and CPU only, the bot paying for broadcasts past its free budget

    @property
    def suffix(self) -> str:
        """What the phase's point names add to ``c<chats>``."""
        return "_paid" if self.paid else ""

    @property
    def environment(self) -> dict[str, str]:
        """What the phase's stack runs with beyond `make run`'s defaults."""
        if not self.paid:
            return {}
        free = TelegramSettings.from_env().overall_sends_per_second  # the stack's, from this environment
        return {"TELEGRAM_PAID_SENDS_PER_SECOND": str(max(0, MAX_SENDS_PER_SECOND_WITH_PAID_BROADCASTS - free))}


def phases(instances: int) -> tuple[Phase, ...]:
    """Latency on `make run`'s default, one server; throughput on ``instances`` servers,
    within Telegram's send budget and past it."""
    return (Phase(1, LATENCY_CHATS, False), Phase(instances, THROUGHPUT_CHATS, True),
            Phase(instances, THROUGHPUT_CHATS, False, paid=True))


async def run_load(
    print_line: Callable[[str, str], None], instances: int = 1, database_url: str | None = None
) -> dict[str, str]:
    """Every figure above, printed as measured; also returned. ``instances``: Rasa servers (RASA_INSTANCES)
    of the throughput points; ``database_url``: a database instead of the fresh SQLite file."""
    results: dict[str, str] = {}

    def emit(values: dict[str, str]) -> None:
        results.update(values)
        for key, value in values.items():
            print_line(key, value)

    expected: Expected = {}
    for phase in phases(instances):
        await run_phase(phase, emit, results, expected, database_url)
    points = [(f"c{c}{phase.suffix}", f"c{c}") for phase in phases(instances) for c in phase.chats]
    for telegram, rest in [*points, ("open33", "open33")]:
        ratio = float(results[f"telegram.{telegram}.throughput_msgs_per_s"]) / max(
            float(results[f"rest.{rest}.throughput_msgs_per_s"]), 1e-9)
        emit({f"telegram_vs_rest.{telegram}.throughput_ratio": f"{ratio:.2f}"})
    return results


async def run_phase(
    phase: Phase, emit: Callable[[dict[str, str]], None], results: dict[str, str], expected: Expected,
    database_url: str | None,
) -> None:
    """The phase's points on a fresh stack: REST first (it teaches ``expected``, each turn's reply count), then
    Telegram. A phase whose bot pays for broadcasts measures Telegram alone, on what the earlier phases taught."""
    failures = 0

    def action_failures(name: str) -> dict[str, str]:
        """Custom-action calls that failed during the point (Rasa logs each; the turn goes on without it)."""
        nonlocal failures
        now = sum(stack.log_lines(server, ACTION_FAILED) for server in stack.rasa_names)
        failed, failures = now - failures, now
        return {f"{name}.action_call_failures": str(failed)} if failed else {}

    database = {"DATABASE_URL": database_url} if database_url else {}
    points = "/".join(f"c{c}{phase.suffix}" for c in phase.chats)
    cpu = phase.under_load or phase.paid
    with work_dir("bench-load-") as work:
        async with (
            FakeBotApi() as fake,
            live_stack(work, fake, instances=phase.servers, **database, **phase.environment) as stack,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            rest = RestClient(session, *stack.rasa_urls)
            line = TelegramLine(fake, session, stack.webhook_urls)
            telegram = TelegramSettings.from_env(stack.env)
            budget = f"{telegram.overall_sends_per_second} for the bot"
            if telegram.paid_sends_per_second:
                budget += f", {telegram.paid_sends_per_second} more paid"
            shared = "counted together in Redis" if phase.servers > 1 else "one server"
            emit({f"load.{points}.rasa_servers": str(phase.servers),
                  f"load.{points}.telegram_sends_per_s": f"{budget} ({shared})"})
            if not phase.under_load and not phase.paid:
                emit(await p1_alert_latency(stack, line, 5, 90, "p1_alert.idle"))
            for chats in phase.chats if not phase.paid else ():
                before, started = stack.cpu(), time.perf_counter()
                emit(await rest_closed(rest, expected, chats, f"rest.c{chats}"))
                emit(action_failures(f"rest.c{chats}"))
                if phase.under_load:
                    answered = int(results[f"rest.c{chats}.turns_answered"])
                    emit(cpu_per_message(f"rest.c{chats}", before, stack.cpu(), answered,
                                         time.perf_counter() - started))
            if phase.under_load:
                emit(await rest_open(rest, expected, "rest.open33"))
                emit(action_failures("rest.open33"))
            for point, chats in enumerate(phase.chats, start=1):
                name = f"telegram.c{chats}{phase.suffix}"
                before, calls, started = stack.cpu(), len(fake.calls), time.perf_counter()
                emit(await telegram_closed(line, expected, chats, point, name))
                emit(action_failures(name))
                answered = int(results[f"{name}.turns_answered"])
                emit(bot_api_calls(name, fake, calls, answered))
                if cpu:
                    emit(cpu_per_message(name, before, stack.cpu(), answered, time.perf_counter() - started))
            if phase.under_load:
                emit(await p1_alert_latency(stack, line, 1, 91, "p1_alert.after_load", wait=45.0))
                calls = len(fake.calls)
                emit(await telegram_open(line, expected, len(phase.chats) + 1, "telegram.open33"))
                emit(action_failures("telegram.open33"))
                emit(bot_api_calls("telegram.open33", fake, calls, int(results["telegram.open33.turns_answered"])))


def main() -> None:
    parser = argparse.ArgumentParser(description="End-to-end load on the real stack (see the module's docstring).")
    parser.add_argument("--instances", type=int, default=1,
                        help="Rasa servers of the 100-chat points, as RASA_INSTANCES runs them (1 and 10 chats: one)")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    args = parser.parse_args()

    def run(database_url: str | None) -> None:
        printed = lambda name, value: print(f"{name}: {value}", flush=True)  # noqa: E731
        run_main(lambda: run_load(printed, args.instances, database_url))

    if args.postgres:
        with postgres_database() as url:
            run(url)
    else:
        run(None)


if __name__ == "__main__":
    main()
