"""Account Activity API webhooks: the CRC answer, signature checks, and events in our own shapes.

X signs each delivery with HMAC-SHA256 of the raw body under the app's consumer secret;
anything unsigned or wrongly signed is refused before it is parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from connectors.twitter.sender import DmEvent, Mention

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def _digest(consumer_secret: str, message: bytes) -> str:
    mac = hmac.new(consumer_secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The body X expects for ``GET ?crc_token=...``."""
    return {"response_token": _digest(consumer_secret, crc_token.encode())}


def signature_valid(consumer_secret: str, body: bytes, signature: str | None) -> bool:
    """True when ``signature`` is X's HMAC of ``body`` (compared in constant time)."""
    if not signature:
        return False
    return hmac.compare_digest(_digest(consumer_secret, body), signature.strip())


@dataclass(frozen=True)
class Delivery:
    """What one webhook delivery carries for the support account."""

    mentions: tuple[Mention, ...]
    dm_events: tuple[DmEvent, ...]


def parse_delivery(payload: dict[str, Any], account_id: str) -> Delivery:
    """Mentions (``tweet_create_events``) and DMs (``direct_message_events``) for ``account_id``.

    Raises:
        ValueError: the payload does not have the Account Activity shape.
    """
    try:
        return _parse(payload, account_id)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an Account Activity delivery: {exc!r}") from exc


def _parse(payload: dict[str, Any], account_id: str) -> Delivery:
    if str(payload.get("for_user_id", account_id)) != account_id:
        return Delivery((), ())
    mentions, events = [], []
    for tweet in payload.get("tweet_create_events", []):
        user = tweet.get("user") or {}
        tweet_id = str(tweet["id_str"])
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text", "")
        referenced: tuple[tuple[str, str], ...] = ()
        if tweet.get("retweeted_status"):
            referenced = (("retweeted", str(tweet["retweeted_status"].get("id_str", ""))),)
        mentions.append(
            Mention(
                id=tweet_id,
                text=str(text),
                author_id=str(user.get("id_str", "")),
                author_username=str(user.get("screen_name", "")),
                conversation_id=str(tweet.get("in_reply_to_status_id_str") or tweet_id),
                referenced=referenced,
            )
        )
    for event in payload.get("direct_message_events", []):
        if event.get("type") != "message_create":
            continue
        create = event["message_create"]
        sender_id = str(create["sender_id"])
        recipient = str((create.get("target") or {}).get("recipient_id", ""))
        events.append(
            DmEvent(
                id=str(event["id"]),
                text=str((create.get("message_data") or {}).get("text", "")),
                sender_id=sender_id,
                conversation_id="-".join(sorted((sender_id, recipient))),
            )
        )
    return Delivery(tuple(mentions), tuple(events))
