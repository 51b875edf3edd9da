"""The Rasa server's NLU parse runs in its own thread, handed to a child process when there is one: the same
answers, the event loop goes on meanwhile, and a child that dies or hangs costs no parse."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

from bot.runtime import nlu_process, parse_off_loop
from bot.runtime.nlu_process import NluProcess, ParseRequest
from bot.settings import PROJECT_ROOT
from tests.auxil.waiting import until

TEXTS = [
    "someone logged into my account and withdrew all my USDT",
    "my BTC withdrawal has been pending for 3 hours, txid 9f9f",
    "what are the fees for ERC20 withdrawals?",
    "내 계정이 해킹당했어요",
    "hello",
]


async def test_the_parse_runs_in_its_thread_with_the_answers_of_the_inline_parse(
    served_agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor: MessageProcessor = served_agent.processor
    inline = [await processor.parse_message(UserMessage(text, sender_id="t")) for text in TEXTS]

    ticks = 0
    during: list[tuple[str, int]] = []  # (thread, loop ticks while the graph ran)
    graph = MessageProcessor._parse_message_with_graph

    def watched(self: MessageProcessor, *args: Any) -> dict[str, Any]:
        before = ticks
        parsed = graph(self, *args)
        during.append((threading.current_thread().name, ticks - before))
        return parsed

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", watched)
    monkeypatch.setattr(MessageProcessor, "parse_message", parse_off_loop.parse_message)
    running = asyncio.create_task(ticker())
    try:
        off_loop = [await processor.parse_message(UserMessage(text, sender_id="t")) for text in TEXTS]
    finally:
        running.cancel()
    assert [p["intent"] for p in off_loop] == [p["intent"] for p in inline]
    assert [p["entities"] for p in off_loop] == [p["entities"] for p in inline]
    assert all(thread.startswith("nlu-parse_") for thread, _ in during), "parsed in the parse threads"
    assert sum(count for _, count in during) > 0, "the event loop ran while the graph parsed"


@pytest.fixture
def child(served_agent: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[NluProcess]:
    """A child NLU process on the served model, ready, as the Rasa server's parse thread uses it."""
    started = NluProcess(Path(served_agent.processor.model_path))
    started.start()
    monkeypatch.setattr(parse_off_loop, "_child", started)
    monkeypatch.setattr(MessageProcessor, "parse_message", parse_off_loop.parse_message)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def parsed_in_server(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the server's own graph parsed (not the child's)."""
    texts: list[str] = []
    graph = MessageProcessor._parse_message_with_graph

    def counted(self: MessageProcessor, message: UserMessage, *args: Any) -> dict[str, Any]:
        texts.append(message.text or "")
        return graph(self, message, *args)

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", counted)
    return texts


async def until_ready(child: NluProcess) -> int:
    """Wait until the child answers a parse; its pid."""
    probe = ParseRequest("hello", "probe", None, None, None, True)
    await until(lambda: child.parse(probe) is not None, 120)
    assert child.pid is not None
    return child.pid


async def parse_all(processor: MessageProcessor) -> list[dict[str, Any]]:
    return [await processor.parse_message(UserMessage(text, sender_id="t")) for text in TEXTS]


async def test_the_child_process_parses_as_the_server_would(
    served_agent: Any, child: NluProcess, parsed_in_server: list[str]
) -> None:
    processor: MessageProcessor = served_agent.processor
    tracker = DialogueStateTracker.from_events("t", [])
    inline = [processor._parse_message_with_graph(UserMessage(text, sender_id="t"), tracker) for text in TEXTS]
    parsed_in_server.clear()
    pid = await until_ready(child)
    assert pid != os.getpid()
    in_child = await parse_all(processor)
    assert parsed_in_server == [], "every parse went to the child"
    assert [p["intent"] for p in in_child] == [p["intent"] for p in inline]
    assert [p["entities"] for p in in_child] == [p["entities"] for p in inline]
    assert [p["intent_ranking"] for p in in_child] == [p["intent_ranking"] for p in inline]


async def test_parses_wait_in_the_childs_pipe_and_each_gets_its_own_answer(
    served_agent: Any, child: NluProcess, parsed_in_server: list[str]
) -> None:
    """While the child parses one message the next ones are already in its pipe: it never idles between two."""
    processor: MessageProcessor = served_agent.processor
    pid = await until_ready(child)
    one_by_one = await parse_all(processor)
    texts = TEXTS[: nlu_process.PARSES_IN_FLIGHT]
    os.kill(pid, signal.SIGSTOP)  # the child takes nothing out of its pipe meanwhile
    try:
        together = asyncio.gather(*(processor.parse_message(UserMessage(text, sender_id="t")) for text in texts))
        await until(lambda: len(child._waiting) == len(texts), 5)
    finally:
        os.kill(pid, signal.SIGCONT)
    answers = await together
    assert [p["text"] for p in answers] == texts
    assert [p["intent"] for p in answers] == [p["intent"] for p in one_by_one[: len(texts)]]
    assert [p["entities"] for p in answers] == [p["entities"] for p in one_by_one[: len(texts)]]
    assert parsed_in_server == [] and child.pid == pid


async def test_more_callers_than_the_pipe_takes_wait_their_turn_and_none_blocks_for_good(
    child: NluProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped child reads nothing: requests past ``PARSES_IN_FLIGHT`` must not fill its pipe and block the send."""
    pid = await until_ready(child)
    monkeypatch.setattr(nlu_process, "ANSWER_SECONDS", 1.0)
    big = ParseRequest("출금이 안 돼요 " * 700, "t", None, None, None, True)  # about 12 KB
    os.kill(pid, signal.SIGSTOP)
    try:
        callers = 40  # 500 KB of requests: more than the pipe holds
        started = time.monotonic()
        threads = ThreadPoolExecutor(max_workers=callers)
        try:
            loop = asyncio.get_running_loop()
            answers = await asyncio.wait_for(
                asyncio.gather(*(loop.run_in_executor(threads, child.parse, big) for _ in range(callers))), 30
            )
        finally:
            threads.shutdown(wait=False)  # a blocked send would never return: do not wait for it
        assert answers == [None] * callers, "the stopped child answered nothing: each caller parses itself"
        assert time.monotonic() - started < 10
        assert not child._lock.locked()
        assert not _alive(pid), "the child that did not answer was killed"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


async def test_a_killed_child_is_started_again_and_the_server_parses_meanwhile(
    served_agent: Any, child: NluProcess, parsed_in_server: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    processor: MessageProcessor = served_agent.processor
    first = await until_ready(child)
    expected = [p["intent"]["name"] for p in await parse_all(processor)]
    os.kill(first, signal.SIGKILL)
    parsed_in_server.clear()
    assert [p["intent"]["name"] for p in await parse_all(processor)] == expected
    assert parsed_in_server == TEXTS, "the server parsed while the child was gone"
    monkeypatch.setattr(nlu_process, "FIRST_PAUSE_SECONDS", 0.0)
    second = await until_ready(child)
    assert second != first
    parsed_in_server.clear()
    assert [p["intent"]["name"] for p in await parse_all(processor)] == expected
    assert parsed_in_server == [], "the new child parses again"


async def test_a_hung_child_is_given_up_within_its_answer_time(
    served_agent: Any, child: NluProcess, parsed_in_server: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    processor: MessageProcessor = served_agent.processor
    hung = await until_ready(child)
    expected = (await processor.parse_message(UserMessage(TEXTS[0], sender_id="t")))["intent"]
    monkeypatch.setattr(nlu_process, "ANSWER_SECONDS", 1.0)
    os.kill(hung, signal.SIGSTOP)
    started = time.monotonic()
    parsed = await processor.parse_message(UserMessage(TEXTS[0], sender_id="t"))
    assert time.monotonic() - started < 10, "the server did not wait on the hung child for good"
    assert parsed["intent"] == expected
    assert parsed_in_server == [TEXTS[0]]
    assert not _alive(hung), "the hung child was killed"


def test_the_child_exits_when_its_server_is_killed_even_while_it_loads(served_agent: Any) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(served_agent.processor.model_path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the child's pid, at once: it is still loading the model
        assert line.strip().isdigit(), f"the stand-in server printed {line!r}"
        child_pid = int(line)
        assert _alive(child_pid)
    finally:
        server.kill()
        server.wait(timeout=30)
    deadline = time.monotonic() + 10  # a load takes about 20 s: the child must not finish it first
    while _alive(child_pid):
        assert time.monotonic() < deadline, "the child outlived its server by 10 s"
        time.sleep(0.1)


async def test_a_message_the_child_cannot_take_is_parsed_in_the_server_and_the_child_stays(
    served_agent: Any, child: NluProcess, parsed_in_server: list[str]
) -> None:
    processor: MessageProcessor = served_agent.processor
    pid = await until_ready(child)
    expected = (await processor.parse_message(UserMessage(TEXTS[1], sender_id="t")))["intent"]
    parsed_in_server.clear()
    odd = UserMessage(TEXTS[1], sender_id="t", metadata={"lock": threading.Lock()})  # no pipe carries a lock
    assert (await processor.parse_message(odd))["intent"] == expected
    assert parsed_in_server == [TEXTS[1]]
    assert (await processor.parse_message(UserMessage(TEXTS[1], sender_id="t")))["intent"] == expected
    assert parsed_in_server == [TEXTS[1]], "the next message went to the same child"
    assert child.pid == pid


def test_a_child_that_keeps_failing_is_started_again_after_growing_pauses() -> None:
    assert [nlu_process.restart_pause(failures) for failures in range(7)] == [0, 30, 60, 120, 240, 480, 600]


SERVER_SCRIPT = """
import sys, time
from pathlib import Path
from bot.runtime.nlu_process import NluProcess

child = NluProcess(Path(sys.argv[1]))
child.start()
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running or stopped: not gone and not a zombie waiting for a parent that will not reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")
