"""REST channel compatible with Rasa's ``/webhooks/rest/webhook``, but safe for support.

Differences from Rasa's own:
- the server names the conversation. A message without ``sender`` opens one and the reply
  carries ``X-Conversation-Id`` and ``X-Conversation-Secret``; later messages send the id as
  ``sender`` and the secret as ``Authorization: Bearer <secret>`` (see ``conversations.py``);
- secrets are redacted before Rasa sees the text or the metadata;
- a malformed request gets a 4xx instead of a crash;
- a conversation owned by an agent is forwarded to the case instead of the bot, and agents'
  replies are delivered on the next message or poll (``GET /webhooks/rest/messages?sender=<id>``
  with the same bearer secret);
- ``/lang [en|ko|zh]`` sets the conversation's language (the reply's buttons send it too);
- ``/search <words>`` reaches the dialogue as a help-center search (``connectors/search_command.py``);
- ``metadata.display_name`` is the name agents see the customer by (shown only: anyone can send any).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.cases.customer_names import CUSTOMER_NAME, display_name
from bot.cases.redaction import REDACTED, redact
from bot.metrics import messages
from bot.runtime import log_context
from connectors import language_command
from connectors.gate import RATING_COMMENT_THANKS, ConversationGate
from connectors.rasa_bridge import (
    UNAVAILABLE,
    TranscribingOutputChannel,
    conversation_gate,
    conversation_language,
    domain_message,
    end_form_an_agent_overtook,
    rating_comment,
    search_unless_urgent,
    txid_expected,
)
from connectors.rest.conversations import RestConversations, sender_key
from connectors.rest.mailbox import RestMailbox

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "rest"
MAX_TEXT_LENGTH = 4000
MAX_METADATA_BYTES = 4096
DISPLAY_NAME = "display_name"  # the metadata key a client names its customer by
MAX_BODY_BYTES = 64 * 1024  # a longest message and metadata, JSON-escaped, with room to spare
ID_HEADER, SECRET_HEADER = "X-Conversation-Id", "X-Conversation-Secret"
REQUEST_ID_HEADER = "X-Request-Id"
RETRY_AFTER_SECONDS = 5
EXPOSED_HEADERS = {"Access-Control-Expose-Headers": f"{ID_HEADER}, {SECRET_HEADER}, {REQUEST_ID_HEADER}"}


class SupportRestInput(InputChannel):
    """The local chat channel: always on, no credentials."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("support_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/messages", methods=["GET"])
        async def poll(request: Request) -> HTTPResponse:
            with log_context.bound(log_context.new_id(CHANNEL)) as request_id:
                return _named(await _poll(request), request_id)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            with log_context.bound(log_context.new_id(CHANNEL)) as request_id:
                return _named(await _receive(request, on_new_message), request_id)

        return hook


async def _poll(request: Request) -> HTTPResponse:
    """Agents' messages waiting for the conversation, handed out once (the bearer secret required)."""
    conversation_id = request.args.get("sender", "")
    if not conversation_id:
        return response.json({"error": "query parameter 'sender' is required"}, status=400)
    try:
        refused = await _refused(request, conversation_id)
        if refused is not None:
            return refused
        return response.json(await asyncio.to_thread(_mailbox(request).collect, sender_key(conversation_id)))
    except UNAVAILABLE as error:
        return _unavailable(request, error)


async def _receive(request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
    """One message from the client: validated, then the conversation's turn."""
    parsed = _parse(request)
    if isinstance(parsed, HTTPResponse):
        return parsed
    try:
        return await _converse(request, *parsed, on_new_message)
    except UNAVAILABLE as error:
        return _unavailable(request, error)


def _named(reply: HTTPResponse, request_id: str | None) -> HTTPResponse:
    """The response names the request id its log lines carry, for a client's bug report."""
    if request_id is not None:
        reply.headers[REQUEST_ID_HEADER] = request_id
    return reply


async def _converse(
    request: Request,
    conversation_id: str | None,
    text: str,
    metadata: dict[str, Any],
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> HTTPResponse:
    """One customer message: check the conversation's secret, pass the gate, then the bot's turn."""
    headers = dict(EXPOSED_HEADERS)
    if conversation_id is None:
        issued = await asyncio.to_thread(_conversations(request).issue)
        conversation_id = issued.conversation_id
        headers.update({ID_HEADER: issued.conversation_id, SECRET_HEADER: issued.secret})
    else:
        refused = await _refused(request, conversation_id)
        if refused is not None:
            return refused
    sender_id = sender_key(conversation_id)
    command = language_command.typed_language_command(text)
    if command is not None:
        _language, reply = await language_command.answer(request.app, CHANNEL, sender_id, command)
        mail: list[dict[str, Any]] = await asyncio.to_thread(_mailbox(request).collect, sender_id)
        return response.json([*mail, {"recipient_id": sender_id, **reply}], headers=headers)
    gate: ConversationGate = conversation_gate(request.app)
    admission = await gate.admit(
        channel=CHANNEL,
        sender_id=sender_id,
        text=text,
        txid_expected=await txid_expected(request.app, sender_id, text),
        message_id=log_context.current(),
    )
    replies: list[dict[str, Any]] = await asyncio.to_thread(_mailbox(request).collect, sender_id)
    notices = list(admission.notices)
    comment = await rating_comment(request.app, admission, sender_id) if admission.for_bot else None
    if comment is not None and comment.kept:
        notices.append(RATING_COMMENT_THANKS)
    if notices:
        kept_in = comment.language if comment is not None and comment.kept else None
        language = admission.language or kept_in or await conversation_language(request.app, sender_id)
        replies += [{"recipient_id": sender_id, **domain_message(request.app, notice, language)} for notice in notices]
        messages.sent(CHANNEL, "bot", len(notices))  # notices skip the transcript, where replies are counted
    if comment is None or comment.kept:
        return response.json(replies, headers=headers)
    await end_form_an_agent_overtook(request.app, admission, sender_id)
    collector = CollectingOutputChannel()
    search = await search_unless_urgent(request.app, admission.text)
    await on_new_message(
        UserMessage(
            search.text if search else admission.text,
            TranscribingOutputChannel(collector, gate, CHANNEL, log_context.current()),
            sender_id,
            parse_data=search.parse_data if search else comment.parse_data,
            input_channel=CHANNEL,
            message_id=log_context.current(),  # the action server logs the turn under the same id
            metadata={
                **await asyncio.to_thread(_redacted_metadata, _without_name(metadata)),
                "redacted": list(admission.redaction.kinds),
                **_customer_name(metadata),
            },
        )
    )
    return response.json(replies + collector.messages, headers=headers)


def _unavailable(request: Request, error: Exception) -> HTTPResponse:
    """A store the turn needs is down: a 503 the client may retry, never a 500 page."""
    logger.warning("%s %s: a store is unavailable", request.method, request.path, exc_info=error)
    return response.json(
        {"error": "the service is briefly unavailable: send the same message again in a few seconds"},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), **EXPOSED_HEADERS},
    )


def _parse(request: Request) -> tuple[str | None, str, dict[str, Any]] | HTTPResponse:
    """Validate the body: ``{"message": str, "sender": str?, "metadata": object?}``.

    The size is checked before the JSON is parsed: parsing runs on the event loop, and a
    body of megabytes would stall every conversation of the server meanwhile.
    """
    if len(request.body or b"") > MAX_BODY_BYTES:
        return response.json({"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, status=413)
    try:
        body = request.json
    except Exception:  # sanic raises its own InvalidUsage for bad JSON
        return response.json({"error": "body is not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return response.json({"error": "body must be a JSON object"}, status=400)
    sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        return response.json({"error": "'sender' must be the conversation id the server issued"}, status=400)
    if not isinstance(text, str) or not text.strip():
        return response.json({"error": "'message' must be a non-empty string"}, status=400)
    if len(text) > MAX_TEXT_LENGTH:
        return response.json({"error": f"'message' is longer than {MAX_TEXT_LENGTH} characters"}, status=413)
    if not isinstance(metadata, dict):
        return response.json({"error": "'metadata' must be an object"}, status=400)
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        return response.json({"error": f"'metadata' is larger than {MAX_METADATA_BYTES} bytes"}, status=413)
    return (sender.strip() if sender is not None else None), text, metadata


async def _refused(request: Request, conversation_id: str) -> HTTPResponse | None:
    """None when the request holds the conversation's secret; otherwise the 401/403 to send."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return response.json(
            {"error": "send the conversation's secret as 'Authorization: Bearer <secret>'"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not await asyncio.to_thread(_conversations(request).verify, conversation_id, secret.strip()):
        return response.json({"error": "unknown conversation or wrong secret"}, status=403)
    return None


def _customer_name(metadata: dict[str, Any]) -> dict[str, str]:
    """The client's ``display_name``, cleaned, as the name the case shows agents (the sender id without one)."""
    given = metadata.get(DISPLAY_NAME)
    name = display_name(given) if isinstance(given, str) else None
    return {CUSTOMER_NAME: name} if name else {}


def _without_name(metadata: dict[str, Any]) -> dict[str, Any]:
    """Client metadata without the key the channel sets itself: a client names the customer by ``display_name`` only."""
    return {key: value for key, value in metadata.items() if key != CUSTOMER_NAME}


def _redacted_metadata(value: Any, label: str = "") -> Any:
    """Client metadata lands in the tracker, so it is redacted like the text.

    Each string or number is read with its key as its label (``{"otp": 482913}`` reads as
    ``otp: 482913``); when that reading holds a secret, the value is replaced.
    """
    if isinstance(value, dict):
        return {redact(str(key)).text: _redacted_metadata(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted_metadata(item, label) for item in value]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value
    text = str(value)
    labelled = f"{label}: {text}" if label else text
    if redact(labelled).text == labelled:
        return value
    alone = redact(text).text
    return alone if isinstance(value, str) and alone != text else REDACTED


def _conversations(request: Request) -> RestConversations:
    return _per_process(request, "rest_conversations", RestConversations)


def _mailbox(request: Request) -> RestMailbox:
    return _per_process(request, "rest_mailbox", RestMailbox)


def _per_process(request: Request, name: str, build: Callable[[Engine], T]) -> T:
    """One ``build(engine)`` per server process, made on first use on the gate's database."""
    shared: T | None = getattr(request.app.ctx, name, None)
    if shared is None:
        shared = build(conversation_gate(request.app).store.engine)
        setattr(request.app.ctx, name, shared)
    return shared
