"""Rasa's calls to the action server, bounded in time and retried while the server restarts.

Rasa waits up to five minutes for an action and, when the action server cannot be reached
(killed, restarting, its backlog full under load), logs the error and goes on with the
turn *without the action's events*: the customer silently misses the form's question or
the case number. Installed in the Rasa server process, this wrapper gives each call a
timeout and retries a call that could not connect, with back-off, for a bounded time, so
an action server restart costs a delay instead of a lost reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.exceptions import RasaException

from bot.runtime.server_settings import ActionServerSettings

logger = logging.getLogger(__name__)

_installed = False


def could_not_connect(error: BaseException) -> bool:
    """Rasa turns a connection error into a plain ``RasaException``; the cause is kept as its context."""
    cause = error.__cause__ or error.__context__
    return isinstance(cause, aiohttp.ClientConnectionError)


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
                raise RasaException(f"action '{self.name()}' did not answer within {timeout:g} s") from error
            except RasaException as error:
                if not could_not_connect(error) or loop.time() + pause > deadline:
                    raise
                logger.warning("action server unreachable for '%s'; trying again in %.1f s", self.name(), pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    validate = response_validator(RemoteAction.action_response_format_spec())

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        validate(result)  # raises jsonschema's ValidationError, as Rasa's own check does
        return True

    RemoteAction.run = run  # type: ignore[method-assign]
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _installed = True
