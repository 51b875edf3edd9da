"""The NLU parse in a child process that loaded the same model, so one Rasa server uses two cores.

A Rasa server is one Python process. Its NLU graph (tokenizers, featurizers, classifier,
CRF entity extractor) is about half of a turn's CPU, and most of it holds the interpreter
lock: while it runs, nothing else of the server does. In a backlog (the restart after a
crash) the server was bound to one core and the second idled (issue 13's profile). The
child loads the model file the server was started with and parses there; the server's
parse threads (``parse_off_loop``) hand it messages and wait without the lock, so the
server's loop runs the policies, actions and channels of other turns meanwhile. Several
requests may wait in the pipe, so in a backlog the child parses one message after another
instead of idling while the server, busy with other turns, takes each answer and sends the
next (session 18: about 10% more parses a second).

The child only helps. Until it has loaded, when it dies, fails a parse or does not answer
within ``ANSWER_SECONDS``, for a message the pipe cannot carry, for another model (one
replaced through Rasa's API) and in any process but the one that started it (a forked
Sanic worker), the message is parsed in the server's thread as before. A child that died
or hung is killed and started again: at once after a long run, then after growing pauses
(``restart_pause``), since each start costs a model load. It is started with ``spawn``
(the server has threads a fork would copy mid-state), logs as the server does, and exits
when the server does, even mid-load (it watches its parent), so a kill -9 leaves no child.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child imports Rasa only once its logging is set up, as the server does
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import MessageProcessor

logger = logging.getLogger(__name__)

ANSWER_SECONDS = 5.0  # a parse takes 20-70 ms of CPU; a child silent this long is hung
STABLE_SECONDS = 600.0  # a child that ran this long before failing is started again at once
FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS = 30.0, 600.0
PARENT_CHECK_SECONDS = 1.0
PARSES_IN_FLIGHT = 3  # one parsing in the child, the next two waiting in its pipe
LARGEST_REQUEST_BYTES = 16_384  # a longer message is parsed in the server: the waiting requests fit the pipe
READY, PARSED, FAILED, LOST = "ready", "parsed", "failed", "lost"  # lost: the child ended before it answered


def restart_pause(failures: int) -> float:
    """Seconds before starting a child again after ``failures`` short-lived ones in a row (0: at once)."""
    return 0.0 if failures == 0 else min(FIRST_PAUSE_SECONDS * 2.0 ** (failures - 1), LONGEST_PAUSE_SECONDS)


@dataclass(frozen=True)
class ParseRequest:
    """What the NLU graph reads of a message (``NLUMessageConverter``), as plain data for the pipe."""

    text: str | None
    sender_id: str | None
    message_id: str | None
    input_channel: str | None
    metadata: dict[str, Any] | None
    only_output_properties: bool

    @classmethod
    def of(cls, message: UserMessage, only_output_properties: bool) -> ParseRequest:
        return cls(
            message.text,
            message.sender_id,
            message.message_id,
            message.input_channel,
            message.metadata,
            only_output_properties,
        )


class _Answer:
    """The child's answer to one request, handed over by the thread that reads the pipe."""

    def __init__(self) -> None:
        self.given = threading.Event()
        self.kind = LOST
        self.detail: Any = None

    def give(self, kind: str, detail: Any = None) -> None:
        self.kind, self.detail = kind, detail
        self.given.set()


class NluProcess:
    """The child and the server's end of its pipe; ``parse`` may be called from several threads at once.

    Requests are pipelined: each parse sends its message and waits for its own answer, so
    while the child parses one message the next is already in its pipe and the child never
    idles between two. The child answers in the order it was asked; one thread per child
    reads the answers and hands each to the parse that waits for it (``_Answer``).
    """

    def __init__(self, model: Path, logging_config: Path | None = None) -> None:
        self.model = model
        self._logging_config = logging_config
        self._owner = os.getpid()
        self._lock = threading.Lock()  # the child's state, and the order of requests and answers
        # at most this many requests sent and unanswered: their bytes always fit the pipe, so a send never blocks
        self._in_flight = threading.BoundedSemaphore(PARSES_IN_FLIGHT)
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._waiting: deque[_Answer] = deque()  # requests sent to the current child, oldest first
        self._ready = False
        self._started_at = 0.0
        self._failures = 0
        self._restart_at: float | None = None  # None while a child runs; inf: the model does not load

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child loading the model (its answer thread learns when it is ready); returns at once."""
        context = multiprocessing.get_context("spawn")
        server_end, child_end = context.Pipe()
        config = str(self._logging_config) if self._logging_config else None
        process = context.Process(
            target=serve, args=(str(self.model), child_end, os.getpid(), config), name="nlu-process", daemon=True
        )
        process.start()
        child_end.close()  # the child's end lives in the child only: the server's death closes the pipe
        self._process, self._pipe, self._ready = process, server_end, False
        self._started_at, self._restart_at = time.monotonic(), None
        threading.Thread(target=self._read_answers, args=(server_end,), name="nlu-answers", daemon=True).start()
        logger.info("NLU process %s started, loading %s", process.pid, self.model.name)

    def parse(self, request: ParseRequest) -> dict[str, Any] | None:
        """The child's parse of ``request``, or None when it cannot give one now (the caller parses)."""
        if os.getpid() != self._owner:
            return None
        try:
            payload = bytes(ForkingPickler.dumps(request))
        except Exception as error:  # metadata the pipe cannot carry; nothing was sent
            logger.warning("a message could not be handed to the NLU process (%s): parsing it in the server", error)
            return None
        if len(payload) > LARGEST_REQUEST_BYTES:  # requests waiting in the pipe must never fill it
            return None
        if not self._in_flight.acquire(timeout=ANSWER_SECONDS):
            return None  # the requests ahead hold the child up; the caller parses
        try:
            answer = _Answer()
            with self._lock:
                if not self._is_ready() or (pipe := self._pipe) is None:
                    return None
                try:
                    pipe.send_bytes(payload)
                except OSError as error:
                    self._failed(f"the NLU process failed ({error})")
                    return None
                self._waiting.append(answer)
            if not answer.given.wait(ANSWER_SECONDS):
                with self._lock:
                    if self._pipe is pipe:
                        self._failed(f"the NLU process did not answer within {ANSWER_SECONDS:.0f}s")
                return None
        finally:
            self._in_flight.release()
        if answer.kind == FAILED:  # the server's own parse meets the same error and logs it in full
            logger.warning("the NLU process could not parse a message (%s): parsing it in the server", answer.detail)
        parsed: dict[str, Any] | None = answer.detail if answer.kind == PARSED else None
        return parsed

    def stop(self) -> None:
        """Kill the child (hung or not); the parses waiting for it parse in the server."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process = self._process
        self._process, self._pipe, self._ready = None, None, False
        while self._waiting:
            self._waiting.popleft().give(LOST)
        if process is not None:
            process.kill()  # its answer thread meets the end of the pipe and closes it
            process.join(timeout=5)

    def _read_answers(self, pipe: Connection) -> None:
        """The answer thread of one child: its ready message, then each answer to the oldest request."""
        try:
            while True:
                try:
                    kind, detail = pipe.recv()
                except (OSError, EOFError) as error:
                    with self._lock:
                        if self._pipe is pipe:  # not stopped on purpose
                            self._failed(f"the NLU process ended ({error or type(error).__name__})")
                    return
                with self._lock:
                    if self._pipe is not pipe:
                        return
                    if self._ready:
                        if self._waiting:  # always: the child answers only what it was asked
                            self._waiting.popleft().give(kind, detail)
                    elif kind == READY:
                        self._ready = True
                        logger.info("NLU process %s ready (loaded in %.1f s)", self.pid, detail)
                    else:
                        logger.error("the NLU process could not load the model (%s): parsing in the server", detail)
                        self._stop()
                        self._restart_at = float("inf")  # the same file will not load the next time either
                        return
        finally:
            pipe.close()

    def _failed(self, why: str) -> None:
        """Stop a child that died or hung (the lock held); schedule its successor."""
        now = time.monotonic()
        self._failures = 0 if now - self._started_at > STABLE_SECONDS else self._failures + 1
        pause = restart_pause(self._failures)
        logger.error("%s: parsing in the server, a new NLU process in %.0f s", why, pause)
        self._stop()
        self._restart_at = now + pause

    def _is_ready(self) -> bool:
        """Whether the child parses now (the lock held); starts a successor once its pause is over."""
        if self._process is None and self._restart_at is not None and time.monotonic() >= self._restart_at:
            self.start()
        return self._ready


def parsing_processor(model: str) -> MessageProcessor:
    """The model loaded to parse with only: no tracker, lock or action server of its own."""
    from rasa.core.lock_store import InMemoryLockStore
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain

    return MessageProcessor(model, InMemoryTrackerStore(Domain.empty()), InMemoryLockStore(), None)  # type: ignore[arg-type]


def serve(model: str, pipe: Connection, server: int, logging_config: str | None) -> None:
    """The child: load the model, say so, then answer each request until the server's end closes."""
    threading.Thread(target=_exit_with, args=(server,), name="watch-server", daemon=True).start()
    if logging_config is not None:
        from bot.runtime import log_secrets, logs

        log_secrets.install()
        logs.set_service("rasa-nlu")
        logs.configure(Path(logging_config))
    from bot.runtime import early_imports

    early_imports.import_before_tensorflow()
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    started = time.monotonic()
    try:
        processor = parsing_processor(model)
    except Exception as error:  # the server logs it and parses itself
        _answer(pipe, FAILED, f"{type(error).__name__}: {error}")
        return
    if not _answer(pipe, READY, time.monotonic() - started):
        return
    while True:
        try:
            request: ParseRequest = pipe.recv()
        except (EOFError, OSError):
            return  # the server is gone
        message = UserMessage(
            request.text,
            sender_id=request.sender_id,
            message_id=request.message_id,
            input_channel=request.input_channel,
            metadata=request.metadata,
        )
        tracker = DialogueStateTracker.from_events(message.sender_id, [])  # the NLU graph does not read it
        try:
            parsed = processor._parse_message_with_graph(message, tracker, request.only_output_properties)
        except Exception as error:  # the server parses it itself and meets the same error there
            if not _answer(pipe, FAILED, f"{type(error).__name__}: {error}"):
                return
            continue
        if not _answer(pipe, PARSED, parsed):
            return


def _exit_with(server: int) -> None:
    """End the child once its server is gone (its parent changes), loading or not."""
    while os.getppid() == server:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _answer(pipe: Connection, kind: str, detail: Any) -> bool:
    """Send to the server; False when it is gone."""
    try:
        payload = bytes(ForkingPickler.dumps((kind, detail)))
    except Exception as error:  # a parse the pipe cannot carry: the server parses it itself
        payload = bytes(ForkingPickler.dumps((FAILED, f"unpicklable answer: {type(error).__name__}: {error}")))
    try:
        pipe.send_bytes(payload)
    except OSError:
        return False
    return True
