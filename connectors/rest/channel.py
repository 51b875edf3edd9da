"""REST channel compatible with Rasa's ``/webhooks/rest/webhook``, but safe for support.

Differences from Rasa's own: secrets are redacted before Rasa sees the text, a malformed
request gets a 400 instead of a crash, a conversation owned by an agent is forwarded to
the case instead of the bot, and agents' replies are delivered on the next request or
poll (``GET /webhooks/rest/messages?sender=...``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.gate import ConversationGate
from connectors.rasa_bridge import TranscribingOutputChannel, conversation_gate, response_text, txid_expected
from connectors.rest.mailbox import RestMailbox

logger = logging.getLogger(__name__)

CHANNEL = "rest"
MAX_TEXT_LENGTH = 4000


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
            sender = request.args.get("sender", "")
            if not sender:
                return response.json({"error": "query parameter 'sender' is required"}, status=400)
            return response.json(await asyncio.to_thread(_mailbox(request).collect, sender))

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            parsed = _parse(request)
            if isinstance(parsed, HTTPResponse):
                return parsed
            sender_id, text, metadata = parsed
            gate: ConversationGate = conversation_gate(request.app)
            admission = await gate.admit(
                channel=CHANNEL,
                sender_id=sender_id,
                text=text,
                txid_expected=await txid_expected(request.app, sender_id),
            )
            replies: list[dict[str, Any]] = await asyncio.to_thread(_mailbox(request).collect, sender_id)
            replies += [{"recipient_id": sender_id, "text": response_text(request.app, n)} for n in admission.notices]
            if not admission.for_bot:
                return response.json(replies)
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    admission.text,
                    TranscribingOutputChannel(collector, gate, CHANNEL),
                    sender_id,
                    input_channel=CHANNEL,
                    metadata={**metadata, "redacted": list(admission.redaction.kinds)},
                )
            )
            return response.json(replies + collector.messages)

        return hook


def _parse(request: Request) -> tuple[str, str, dict[str, Any]] | HTTPResponse:
    """Validate the body: ``{"sender": str, "message": str, "metadata": object?}``."""
    try:
        body = request.json
    except Exception:  # sanic raises its own InvalidUsage for bad JSON
        return response.json({"error": "body is not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return response.json({"error": "body must be a JSON object"}, status=400)
    sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
    if not isinstance(sender, str) or not sender.strip():
        return response.json({"error": "'sender' must be a non-empty string"}, status=400)
    if not isinstance(text, str) or not text.strip():
        return response.json({"error": "'message' must be a non-empty string"}, status=400)
    if len(text) > MAX_TEXT_LENGTH:
        return response.json({"error": f"'message' is longer than {MAX_TEXT_LENGTH} characters"}, status=413)
    if not isinstance(metadata, dict):
        return response.json({"error": "'metadata' must be an object"}, status=400)
    return sender.strip(), text, metadata


def _mailbox(request: Request) -> RestMailbox:
    mailbox = getattr(request.app.ctx, "rest_mailbox", None)
    if mailbox is None:
        mailbox = RestMailbox(conversation_gate(request.app).store.engine)
        request.app.ctx.rest_mailbox = mailbox
    return mailbox
