"""kill -9 of the Rasa server in the middle of a Telegram burst: what was acknowledged, lost, duplicated.

What runs: the stack of `bench/live_stack.py` (actions, Rasa with the customer bot in webhook
mode, desk) on a fresh SQLite file, against the fake Bot API on 127.0.0.1.

How:
1. A calm run learns how many replies each opening message gets: the 50 different first
   messages of the burst, each twice in a fresh chat, 25 at a time, a turn ending 4 s after its
   last reply; the larger count of the two (a failed action call only ever loses replies).
2. The burst: 200 fresh chats each send one of those messages, POSTed to the webhook evenly over
   4 s. Like Telegram, an update that got no 2xx (or no answer within 10 s) is POSTed again
   every second until it does.
3. 3 s after the first update the Rasa server's process group gets SIGKILL; it is started again
   at once with the same command line.
4. Replies are watched at the fake Bot API until the connector's claims taken before the kill
   have expired (`TELEGRAM_CLAIM_SECONDS` plus two sweeps), then until every chat has its
   expected replies, or none came for 15 s while the Rasa server was idle (under 0.1 core over
   5 s, /proc); at most 4 minutes after the restarted server answers its health route (`GET /`).

Reported: updates acknowledged (on the first POST / after redelivery / never), turns whose
replies were lost (fewer than the calm run's count, duplicates not counted), duplicated replies
(the same text twice in one chat), messages that give a case id in the calm run (P1 reports)
but got none, failed custom-action calls (from Rasa's log), recovery time (from the restarted
server's first 200 on `GET /` to the last reply it sent), the backlog it found (turns not yet
complete) and the rate it completed them at, and how many turns were complete
10/30/60/90/120 s after that; the customer bot's messages and typing actions after health,
with the fewest seconds the send budget allows them (the delivery floor of the recovery), and
the cores each process kept busy from health to that last reply. Chats short of replies
are listed on stderr with what they got.

    python -m bench.crash            # `name: value` lines (about 4 minutes)
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Callable

import aiohttp
from sqlalchemy import create_engine, func, select

from bench.customers import first_messages
from bench.fake_bot_api import FakeBotApi
from bench.live_stack import CUSTOMER_TOKEN, LiveStack, live_stack, run_main, work_dir
from bench.traffic import TelegramLine
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import telegram_replies

BURST, DISTINCT = 200, 50
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")
BURST_SECONDS, KILL_AFTER = 4.0, 3.0
REDELIVER_EVERY, POST_TIMEOUT = 1.0, 10.0
CALM_PARALLEL, CALM_QUIET = 25, 4.0
LONGEST_WATCH = 240.0
SILENCE, IDLE_CORES, IDLE_WINDOW = 15.0, 0.1, 5.0  # stop watching: no reply for 15 s, the Rasa server idle for 5
MARKS = (10, 30, 60, 90, 120)
BUDGETED = ("sendChatAction", "sendMessage")  # calls of the customer bot's in a burst that its send budget counts


async def calm_counts(line: TelegramLine, texts: list[str]) -> tuple[dict[str, int], set[str]]:
    """Replies each text gets as the first message of a fresh chat on an idle stack; the texts that open a case."""
    counts: dict[str, int] = {}
    opening: set[str] = set()
    gate = asyncio.Semaphore(CALM_PARALLEL)

    async def one(index: int, text: str) -> None:
        chat = 20_000_000 + index
        async with gate:
            sent = time.perf_counter()
            if await line.post(line.update(chat, text)) != 200:
                raise RuntimeError(f"calm run: webhook refused {text!r}")
            await line.wait_replies(chat, 10**6, sent + 60, quiet=CALM_QUIET, since=sent)
            counts[text] = max(counts.get(text, 0), len(line.replies[chat]))  # a failed action only loses replies
            if any(CASE_ID.search(reply) for reply in line.texts[chat]):
                opening.add(text)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(texts + texts)))
    return counts, opening


def chat_state(texts: list[str], expected: int) -> tuple[int, int]:
    """(replies lost, replies duplicated) of one chat: a repeated text is a duplicate."""
    duplicates = sum(n - 1 for n in Counter(texts).values())
    return max(0, expected - (len(texts) - duplicates)), duplicates


def flagged_duplicates(stack: LiveStack) -> int:
    """Replies the outbox sent again after an unconfirmed send: the crash window the design accepts."""
    engine = create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(telegram_replies.c.possible_duplicate)).scalar_one())
    finally:
        engine.dispose()


def budget_use(fake: FakeBotApi, since: float, stack: LiveStack) -> str:
    """The customer bot's calls its send budget counted after ``since``, and the fewest seconds the budget allows."""
    budget = TelegramSettings.from_env(stack.env).overall_sends_per_second
    counted = Counter(
        c.method for c in fake.calls if c.at > since and c.method in BUDGETED and c.token == CUSTOMER_TOKEN
    )
    spread = ", ".join(f"{method} {counted[method]}" for method in sorted(BUDGETED))
    return f"{spread}; at the budget of {budget} a second they take at least {sum(counted.values()) / budget:.1f} s"


Samples = list[tuple[float, dict[str, float]]]  # (time.perf_counter(), CPU seconds of each process so far)


def cores_used(used: Samples, since: float, until: float) -> tuple[dict[str, float], float] | None:
    """Cores each process used from the first sample at or after ``since`` to the first at or after ``until``,
    and the seconds between those two samples."""
    (t0, first) = next(u for u in used if u[0] >= since)
    (t1, last) = next((u for u in used if u[0] >= until), used[-1])
    spent = t1 - t0
    return ({name: (last[name] - first[name]) / spent for name in last if name in first}, spent) if spent > 0 else None


def cores_busy(used: Samples, until: float) -> str:
    """The cores each process kept busy from the first sample to ``until``, as a bench line."""
    measured = cores_used(used, used[0][0], until)
    if measured is None:
        return "not measured"
    cores, spent = measured
    busy = ", ".join(f"{name} {value:.2f}" for name, value in cores.items())
    return f"{busy} (over {spent:.1f} s; rasa is the server with its NLU child, rasa:nlu_child the child alone)"


async def run_crash(print_line: Callable[[str, str], None], instances: int = 1) -> None:
    """Every figure above, printed as measured; ``instances`` Rasa servers (the first one is killed).

    Named ``crash.*`` for one server, ``crash.servers_<n>.*`` for more.
    """
    prefix = "crash" if instances == 1 else f"crash.servers_{instances}"
    with work_dir("bench-crash-") as work:
        async with FakeBotApi() as fake, live_stack(work, fake, instances=instances) as stack, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)
        ) as session:
            # The documented settings (.env.example), not the connector's classes: those are being reworked.
            claim_seconds = float(stack.env.get("TELEGRAM_CLAIM_SECONDS") or 120)
            sweep_seconds = float(stack.env.get("TELEGRAM_SWEEP_SECONDS") or 5)
            line = TelegramLine(fake, session, (stack.webhook_url,))  # the server killed; a survivor works on
            texts = first_messages(DISTINCT)
            counts, opening = await calm_counts(line, texts)
            print_line(f"{prefix}.calm_replies_per_message", f"{min(counts.values())}-{max(counts.values())}, "
                       f"{sum(counts[texts[i % DISTINCT]] for i in range(BURST))} expected for the burst")

            chats = {30_000_000 + i: texts[i % DISTINCT] for i in range(BURST)}
            updates = {chat: line.update(chat, text) for chat, text in chats.items()}
            attempts: dict[int, int] = {}  # chat -> POSTs until acknowledged
            outcomes: dict[int, list[str]] = {c: [] for c in chats}  # chat -> each POST's status or error
            start = time.perf_counter()

            async def deliver(order: int, chat: int) -> None:
                await asyncio.sleep(order * BURST_SECONDS / BURST)
                tries = 0
                while time.perf_counter() < start + LONGEST_WATCH:
                    tries += 1
                    status = await line.post(updates[chat], timeout=POST_TIMEOUT)
                    outcomes[chat].append(f"{time.perf_counter() - start:.1f}s:{status}")
                    if status == 200:
                        attempts[chat] = tries
                        return
                    await asyncio.sleep(REDELIVER_EVERY)

            deliveries = [asyncio.create_task(deliver(i, c)) for i, c in enumerate(chats)]
            await asyncio.sleep(KILL_AFTER)
            killed = time.perf_counter()
            before_kill = (len(attempts), sum(len(line.replies[c]) for c in chats))
            stack.kill_rasa()
            stack.start("rasa")
            healthy = await stack.wait_ready("rasa", f"{stack.rasa_url}/")
            healthy_at_fake = time.monotonic() - (time.perf_counter() - healthy)  # the fake Bot API's clock

            def missing() -> int:
                return sum(chat_state(line.texts[c], counts[t])[0] for c, t in chats.items())

            # Claims the killed process held expire after TELEGRAM_CLAIM_SECONDS; the sweeper looks every
            # TELEGRAM_SWEEP_SECONDS. Watch until then, and on while replies still come.
            watch_until = killed + claim_seconds + 2 * sweep_seconds + 5
            complete_at: dict[int, float] = {}
            used: Samples = []  # CPU seconds of each process as the recovery goes
            while (now := time.perf_counter()) < healthy + LONGEST_WATCH:
                used.append((now, stack.cpu()))
                for c, t in chats.items():
                    if c not in complete_at and chat_state(line.texts[c], counts[t])[0] == 0:
                        complete_at[c] = line.replies[c][counts[t] - 1] if counts[t] else now
                last = max((line.replies[c][-1] for c in chats if line.replies[c]), default=killed)
                recent = cores_used(used, now - IDLE_WINDOW, now)
                rasa_idle = recent is not None and recent[0].get("rasa", 1.0) < IDLE_CORES
                done = len(complete_at) == BURST or (now - last > SILENCE and rasa_idle)
                if now > watch_until and done:
                    break
                await asyncio.sleep(0.1)
            watched = time.perf_counter() - healthy
            await asyncio.gather(*deliveries)

            for c, t in chats.items():  # what went wrong, chat by chat, for whoever investigates
                lost, dup = chat_state(line.texts[c], counts[t])
                if lost or dup:
                    print(f"crash: chat {c} {t!r}: expected {counts[t]}, got {line.texts[c]}; "
                          f"POSTs (time after the burst began: status) {outcomes[c]}", file=sys.stderr)
            lost_turns = sum(chat_state(line.texts[c], counts[t])[0] > 0 for c, t in chats.items())
            duplicated = sum(chat_state(line.texts[c], counts[t])[1] for c, t in chats.items())
            first_try = sum(a == 1 for a in attempts.values())
            print_line(f"{prefix}.updates_acknowledged", f"{len(attempts)}/{BURST} ({first_try} on the first POST, "
                       f"{len(attempts) - first_try} after redelivery; {before_kill[0]} before the kill)")
            print_line(f"{prefix}.replies_before_kill", str(before_kill[1]))
            print_line(f"{prefix}.restart_to_health_s", f"{healthy - killed:.1f}")
            timed_out = sum(o.endswith("TimeoutError") for posts in outcomes.values() for o in posts)
            print_line(f"{prefix}.webhook_posts_timed_out", f"{timed_out} (no answer within {POST_TIMEOUT:.0f} s)")
            print_line(f"{prefix}.turns_with_lost_replies", f"{lost_turns}/{BURST} ({missing()} replies missing)")
            flagged = await asyncio.to_thread(flagged_duplicates, stack)
            print_line(f"{prefix}.duplicated_replies", f"{duplicated} ({flagged} sends flagged possible_duplicate)")
            no_case = sum(t in opening and not any(CASE_ID.search(r) for r in line.texts[c]) for c, t in chats.items())
            print_line(f"{prefix}.case_ids_missing", f"{no_case}/{sum(t in opening for t in chats.values())} "
                       "(messages that give a case id in the calm run, P1 reports among them, without one)")
            print_line(f"{prefix}.action_call_failures", str(stack.log_lines("rasa", "Failed to run custom action")))
            after_restart = [at for c in chats for at in line.replies[c] if at > healthy]
            recovery = max(after_restart, default=healthy) - healthy
            print_line(f"{prefix}.cores_busy_in_recovery", cores_busy(used, healthy + recovery))
            never = BURST - len(complete_at)
            print_line(f"{prefix}.recovery_s", f"{recovery:.1f} (restarted server healthy -> last reply it sent" + (
                f"; {never} turns never completed, watched {watched:.0f} s)" if never else ")"))
            print_line(f"{prefix}.bot_api_after_health", budget_use(fake, healthy_at_fake, stack))
            left = sum(at > healthy for at in complete_at.values()) + never
            print_line(f"{prefix}.backlog_at_health", f"{left} turns unfinished, completed at "
                       f"{(left - never) / max(recovery, 0.1):.1f} a second")
            print_line(f"{prefix}.turns_complete_after_health", ", ".join(
                f"+{m}s {sum(t <= healthy + m for t in complete_at.values())}" for m in MARKS))


def main() -> None:
    parser = argparse.ArgumentParser(description="kill -9 of the Rasa server in a Telegram burst (see the docstring).")
    parser.add_argument("--instances", type=int, default=1, help="Rasa servers, as RASA_INSTANCES runs them")
    instances = parser.parse_args().instances
    run_main(lambda: run_crash(lambda name, value: print(f"{name}: {value}", flush=True), instances))


if __name__ == "__main__":
    main()
