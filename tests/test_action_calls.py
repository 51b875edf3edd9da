"""A custom action that fails stops the turn before Rasa saves it, where the channel runs turns again.

The served model in this process, its action endpoint pointed at a small action server on
127.0.0.1 that fails until told otherwise. Before, Rasa logged "the actions events are lost"
and went on: a theft report got its first reply and no case, and the turn counted as done.
That stays the way of channels that cannot run a turn again without repeating its replies.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.runtime import action_calls
from bot.runtime.action_calls import ActionCallFailed, ActionServerUnreachable, failed_calls_stop_the_turn
from tests.auxil.rasa_stack import action_endpoint
from tests.auxil.telegram_harness import domain_text

pytestmark = pytest.mark.slow  # loads the model
THEFT = "someone got into my account and withdrew all my bitcoin"


class ActionServer:
    """Answers every action with one reply naming it, or with ``status`` when that is not 200."""

    def __init__(self) -> None:
        self.status = 500
        self.called: list[str] = []
        self.sent_the_domain: dict[str, bool] = {}
        self.url = ""

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        action = body["next_action"]
        self.called.append(action)
        self.sent_the_domain[action] = "domain" in body
        if self.status != 200:
            return web.json_response({"error": "database unavailable"}, status=self.status)
        return web.json_response({"events": [], "responses": [{"text": f"ran {action}"}]})


@pytest.fixture
async def action_server() -> AsyncIterator[ActionServer]:
    server = ActionServer()
    app = web.Application()
    app.router.add_post("/webhook", server.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/webhook"
    yield server
    await runner.cleanup()


@pytest.fixture
def agent(served_agent: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The served agent with the wrapper installed as the Rasa server installs it (undone afterwards)."""
    for owner, name in ((RemoteAction, "run"), (RemoteAction, "_validate_action_result"),
                        (MessageProcessor, "_run_action")):
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    monkeypatch.setattr(action_calls, "_installed", False)
    action_calls.install(timeout_seconds=5.0, retry_seconds=0.5)
    monkeypatch.setattr(served_agent.processor, "action_endpoint", None)
    return served_agent


async def user_texts(agent: Any, sender: str) -> list[str]:
    tracker = await agent.tracker_store.retrieve(sender)
    return [] if tracker is None else [e.text for e in tracker.events if e.type_name == "user"]


async def test_a_failed_action_call_stops_the_turn_unsaved_and_the_next_try_completes_it(
    agent: Any, action_server: ActionServer
) -> None:
    agent.processor.action_endpoint = EndpointConfig(action_server.url)
    sender = f"action-calls-{uuid.uuid4().hex}"
    with pytest.raises(ActionCallFailed) as failed, failed_calls_stop_the_turn():
        await agent.handle_message(UserMessage(THEFT, CollectingOutputChannel(), sender))
    assert action_server.called and not isinstance(failed.value, ActionServerUnreachable)
    assert await user_texts(agent, sender) == []  # the turn was not saved: it can run again as a whole

    action_server.status = 200
    output = CollectingOutputChannel()
    await agent.handle_message(UserMessage(THEFT, output, sender))
    assert f"ran {action_server.called[-1]}" in [m.get("text") for m in output.messages]
    assert await user_texts(agent, sender) == [THEFT]


async def test_an_action_server_unreachable_past_the_retry_window_is_told_apart(agent: Any) -> None:
    agent.processor.action_endpoint = EndpointConfig("http://127.0.0.1:9/webhook")  # nothing listens there
    sender = f"action-calls-{uuid.uuid4().hex}"
    with pytest.raises(ActionServerUnreachable), failed_calls_stop_the_turn():
        await agent.handle_message(UserMessage(THEFT, CollectingOutputChannel(), sender))
    assert await user_texts(agent, sender) == []


async def test_an_action_server_without_its_database_is_retried_then_told_apart(
    agent: Any, action_server: ActionServer
) -> None:
    """503 (the action server's database is unavailable) is transient: retried in the window, then never
    counted against the turn; before, a theft report was set aside after three tries and no case opened."""
    agent.processor.action_endpoint = EndpointConfig(action_server.url)
    action_server.status = 503
    sender = f"action-calls-{uuid.uuid4().hex}"
    with pytest.raises(ActionServerUnreachable), failed_calls_stop_the_turn():
        await agent.handle_message(UserMessage(THEFT, CollectingOutputChannel(), sender))
    assert len(set(action_server.called)) == 1 and len(action_server.called) >= 2, "the same call, retried"
    assert await user_texts(agent, sender) == []


async def test_where_the_turn_cannot_run_again_it_goes_on_and_the_customer_is_asked_to_resend(
    agent: Any, action_server: ActionServer
) -> None:
    """X and REST: the turn is saved (its replies were sent) but ends at the failed action, with the customer
    asked to send the message again; before, it went on without it (the form's next question, no case number)."""
    agent.processor.action_endpoint = EndpointConfig(action_server.url)
    sender = f"action-calls-{uuid.uuid4().hex}"
    output = CollectingOutputChannel()
    await agent.handle_message(UserMessage(THEFT, output, sender))
    assert len(action_server.called) == 1 and await user_texts(agent, sender) == [THEFT]
    assert [m.get("text") for m in output.messages][-1] == domain_text("utter_not_handled")  # nothing after it
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.latest_action_name == "action_listen"
    assert domain_text("utter_not_handled") in [e.text for e in tracker.events if e.type_name == "bot"]

    action_server.status = 200
    with failed_calls_stop_the_turn():
        pass
    resent = CollectingOutputChannel()  # the switch did not stay on, and the resend runs the action
    await agent.handle_message(UserMessage(THEFT, resent, sender))
    assert f"ran {action_server.called[1]}" in [m.get("text") for m in resent.messages]
    assert await user_texts(agent, sender) == [THEFT, THEFT]


async def test_only_the_actions_that_read_the_domain_are_sent_it(agent: Any, action_server: ActionServer) -> None:
    """endpoints.yml: the domain (about 94 KB of JSON) goes to the form's validation and the read-back only.

    Every other action call was encoding it in the Rasa server and parsing it in the action
    server for nothing. The read-back takes the "unknown" wording of the customer's language from it.
    """
    endpoint = action_endpoint(action_server.url)
    action_server.status = 200
    tracker = DialogueStateTracker(f"action-calls-{uuid.uuid4().hex}", agent.domain.slots)
    for name in ("action_start_case", "action_open_case", "action_read_back", "validate_case_details_form"):
        await RemoteAction(name, endpoint).run(CollectingOutputChannel(), agent.processor.nlg, tracker, agent.domain)
    assert action_server.sent_the_domain == {
        "action_start_case": False,
        "action_open_case": False,
        "action_read_back": True,
        "validate_case_details_form": True,
    }
