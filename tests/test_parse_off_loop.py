"""The Rasa server's NLU parse runs in its own thread: the same answers, and the event loop goes on meanwhile."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

from bot.runtime import parse_off_loop

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
    assert {thread for thread, _ in during} == {"nlu-parse_0"}
    assert sum(count for _, count in during) > 0, "the event loop ran while the graph parsed"
