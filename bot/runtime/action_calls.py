"""Rasa's calls to the action server, bounded in time and retried while the server restarts.

Rasa waits up to five minutes for an action and, when the action server cannot be reached
(killed, restarting, its backlog full under load), logs the error and goes on with the
turn *without the action's events*: the customer silently misses the form's question or
the case number. Installed in the Rasa server process, this wrapper gives each call a
timeout and retries a call that could not connect or found no database (503), with back-off, for a bounded time, so
an action server restart costs a delay instead of a lost reply. Where the channel can run
a whole turn again without sending its replies twice (Telegram's inbox and outbox), a call
that still fails stops the turn before Rasa saves it (``ActionCallFailed``) and the turn
runs again later; the actions before the failed one are safe to run again (a case is
opened once per customer message). Elsewhere the turn is saved as Rasa would, but instead
of going on without the action (a form's next question after a theft report whose case
number never came) it ends there: the customer is asked to send the message again, and the
bot listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from bot.runtime.server_settings import ActionServerSettings

logger = logging.getLogger(__name__)

_installed = False
NOT_HANDLED = "utter_not_handled"  # "Sorry, something went wrong on our side ... Please send it again"
UNAVAILABLE = 503  # the action server's answer when its database is (`bot/runtime/action_server.py`)


class ActionCallFailed(Exception):
    """A custom action could not run this turn (an error status, or no answer in time).

    Raised after Rasa's own handling of the failed call, before it saves the turn: the
    tracker stays as it was, so the turn can run again as a whole (its recorded replies are
    not sent twice). Counted against the turn's tries: an action that always fails is not
    retried for good.
    """


class ActionServerUnreachable(ActionCallFailed):
    """The action server, or its database (503), was unavailable for the whole retry window: retried without limit."""


_failed_call: ContextVar[ActionCallFailed | None] = ContextVar("failed_action_call", default=None)
_turn_runs_again: ContextVar[bool] = ContextVar("turn_runs_again", default=False)


@contextmanager
def failed_calls_stop_the_turn() -> Iterator[None]:
    """Within: a failed action call stops the turn unsaved, for a channel that runs it again.

    Only where the turn's replies already sent are not sent again: X and REST send (or
    return) each reply as it comes, so there the turn ends at the failed call with
    ``utter_not_handled`` and is saved.
    """
    token = _turn_runs_again.set(True)
    try:
        yield
    finally:
        _turn_runs_again.reset(token)


async def _ask_to_send_again(
    tracker: DialogueStateTracker, output_channel: OutputChannel, nlg: NaturalLanguageGenerator
) -> None:
    """A failed action's turn ends here: say so (in the conversation's language) and log it on the tracker."""
    generated = await nlg.generate(NOT_HANDLED, tracker, output_channel.name())
    if generated is None:
        return
    said = create_bot_utterance(generated)
    tracker.update(said)
    await output_channel.send_response(tracker.sender_id, said.message())


def unavailable(error: BaseException) -> bool:
    """The action server could not be reached, or answered 503: its database is unavailable for now.

    Rasa turns either into a plain ``RasaException``; the cause is kept as its context.
    """
    cause = error.__cause__ or error.__context__
    return isinstance(cause, aiohttp.ClientConnectionError) or getattr(cause, "status", None) == UNAVAILABLE


def response_validator(spec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """Rasa's check of an action server's response, each event checked against its own type's schema.

    The spec lists the event types under ``oneOf``, told apart by ``event``'s constant: jsonschema
    tries all 23 for every event (a tenth of the Rasa server's CPU under load); picking the one
    ``event`` names accepts and refuses exactly the same responses.
    """
    events = spec["properties"]["events"]
    by_type = {item["properties"]["event"]["const"]: item for item in events["items"]["oneOf"]}
    items = {key: value for key, value in events["items"].items() if key != "oneOf"}
    shape = {**spec, "properties": {**spec["properties"], "events": {**events, "items": items}}}
    check_shape = validator_for(shape)(shape)
    check_event = {name: validator_for(schema)(schema) for name, schema in by_type.items()}

    def validate(result: dict[str, Any]) -> None:
        check_shape.validate(result)
        for event in result.get("events") or []:
            checker = check_event.get(event["event"])
            if checker is None:
                raise ValidationError(f"{event['event']!r} is not an event type", instance=event)
            checker.validate(event)

    return validate


def install(timeout_seconds: float | None = None, retry_seconds: float | None = None) -> None:
    """Wrap ``RemoteAction.run`` once per process (``ACTION_TIMEOUT_SECONDS``, ``ACTION_RETRY_SECONDS``)."""
    global _installed
    if _installed:
        return
    settings = ActionServerSettings.from_env()
    timeout = timeout_seconds or settings.timeout_seconds
    retry_for = retry_seconds or settings.retry_seconds
    original = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + retry_for
        pause = 0.2
        while True:
            try:
                return await asyncio.wait_for(original(self, *args, **kwargs), timeout)
            except asyncio.TimeoutError as error:
                message = f"action '{self.name()}' did not answer within {timeout:g} s"
                _failed_call.set(ActionCallFailed(message))
                raise RasaException(message) from error
            except ActionExecutionRejection:
                raise  # the action declined (a form's validation): Rasa's dialogue handles it
            except RasaException as error:
                if not unavailable(error):
                    _failed_call.set(ActionCallFailed(str(error)))
                    raise
                if loop.time() + pause > deadline:
                    _failed_call.set(ActionServerUnreachable(f"{error} (for {retry_for:g} s)"))
                    raise
                logger.warning("action server unavailable for '%s'; trying again in %.1f s", self.name(), pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    original_run_action = MessageProcessor._run_action

    async def run_action(
        self: MessageProcessor,
        action: Any,
        tracker: DialogueStateTracker,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
        prediction: PolicyPrediction,
    ) -> bool:
        """Rasa's step, which logs a failed action call and goes on: here the turn stops, or ends with a notice."""
        token = _failed_call.set(None)
        try:
            predict_again = await original_run_action(self, action, tracker, output_channel, nlg, prediction)
            failed = _failed_call.get()
        finally:
            _failed_call.reset(token)
        if failed is not None:
            if _turn_runs_again.get():
                raise failed
            await _ask_to_send_again(tracker, output_channel, nlg)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))  # the turn ends: the next message is the resend
            return False
        return predict_again

    validate = response_validator(RemoteAction.action_response_format_spec())

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        validate(result)  # raises jsonschema's ValidationError, as Rasa's own check does
        return True

    RemoteAction.run = run  # type: ignore[method-assign]
    MessageProcessor._run_action = run_action  # type: ignore[method-assign]
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _installed = True
