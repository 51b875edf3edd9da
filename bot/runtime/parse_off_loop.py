"""Rasa's NLU parse of a message in a thread of its own, not on the server's event loop.

Rasa runs the NLU graph inline in ``MessageProcessor.parse_message``: for each message the
event loop stops for the tokenizers, featurizers, the sentence embedding (the largest
part, about 11 ms) and the classifier, and every other conversation's database call,
send and webhook waits until it is done. The embedding engine lets go of the interpreter
lock while it computes, so in a thread the loop goes on meanwhile, and on a 2-core
machine the second core does the work. The graph parses one message at a time here, as it
did on the loop (the CRF entity extractor's tagger holds the sequence it is given between
two calls, so two parses at once could mix their entities). When the server was started
with a child NLU process (``nlu_process``), the threads hand their messages to it, up to
``PARSES_IN_FLIGHT`` at once so the child always has the next one, and the graph here
parses only what the child cannot.

This is ``parse_message`` of rasa 3.6.21 with that one call moved; rasa is pinned.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor, structlogger
from rasa.shared.core.trackers import DialogueStateTracker

from bot.runtime.nlu_process import PARSES_IN_FLIGHT, NluProcess, ParseRequest

_executor = ThreadPoolExecutor(max_workers=PARSES_IN_FLIGHT, thread_name_prefix="nlu-parse")
_graph_here = threading.Lock()  # this process's graph parses one message at a time
_child: NluProcess | None = None


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """``MessageProcessor.parse_message``, the graph run in ``_executor``."""
    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await asyncio.get_running_loop().run_in_executor(
            _executor, _parse, self, message, tracker, only_output_properties
        )
    self._update_full_retrieval_intent(parse_data)
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=copy.deepcopy(parse_data["text"]),
        parse_data_intent=parse_data["intent"],
        parse_data_entities=copy.deepcopy(parse_data["entities"]),
    )
    self._check_for_unseen_features(parse_data)
    return parse_data


def _parse(
    processor: MessageProcessor, message: UserMessage, tracker: DialogueStateTracker, only_output_properties: bool
) -> dict[str, Any]:
    """The child's parse when it has this model loaded, else the graph's in this thread."""
    if _child is not None and _child.model.name == processor.model_filename:
        parsed = _child.parse(ParseRequest.of(message, only_output_properties))
        if parsed is not None:
            return parsed
    with _graph_here:
        return processor._parse_message_with_graph(message, tracker, only_output_properties)


def install(child: NluProcess | None = None) -> None:
    """Replace the inline parse (once per process); with ``child`` (started), parse there while it can."""
    global _child
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
    if child is not None and _child is None:
        _child = child
