"""Account Activity API webhooks: the CRC answer, signature checks, and events in our own shapes.

X signs each delivery with HMAC-SHA256 of the raw body under the app's consumer secret;
anything unsigned or wrongly signed is refused before it is parsed. The CRC answer is the same
HMAC, so it is given only for tokens shaped like X's: a JSON body can never be signed through it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from connectors.twitter.sender import DmEvent, Mention

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
_CRC_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{1,128}")
_NUMERIC_ID = re.compile(r"[0-9]{1,20}")


def _digest(consumer_secret: str, message: bytes) -> str:
    mac = hmac.new(consumer_secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def crc_token_valid(crc_token: str) -> bool:
    """True for what X sends as a challenge (1-128 base64/url-safe characters), nothing else."""
    return _CRC_TOKEN.fullmatch(crc_token) is not None


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The body X expects for ``GET ?crc_token=...``.

    Raises:
        ValueError: the token is not shaped like X's, so signing it could forge a delivery.
    """
    if not crc_token_valid(crc_token):
        raise ValueError("crc_token must be 1-128 characters of [A-Za-z0-9+/=_-]")
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


def _numeric_id(value: object) -> str:
    """X ids (of posts, events and users) are decimal; anything else is not a delivery (ids are sorted as numbers)."""
    text = str(value)
    if _NUMERIC_ID.fullmatch(text) is None:
        raise TypeError(f"id {text[:40]!r} is not a decimal id")
    return text


def _parse(payload: dict[str, Any], account_id: str) -> Delivery:
    if str(payload.get("for_user_id", account_id)) != account_id:
        return Delivery((), ())
    mentions, events = [], []
    for tweet in payload.get("tweet_create_events", []):
        user = tweet.get("user") or {}
        tweet_id = _numeric_id(tweet["id_str"])
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text", "")
        referenced: tuple[tuple[str, str], ...] = ()
        if tweet.get("retweeted_status"):
            referenced = (("retweeted", str(tweet["retweeted_status"].get("id_str", ""))),)
        mentions.append(
            Mention(
                id=tweet_id,
                text=str(text),
                author_id=_numeric_id(user["id_str"]),
                author_username=str(user.get("screen_name", "")),
                conversation_id=_numeric_id(tweet.get("in_reply_to_status_id_str") or tweet_id),
                referenced=referenced,
            )
        )
    for event in payload.get("direct_message_events", []):
        if event.get("type") != "message_create":
            continue
        create = event["message_create"]
        sender_id = _numeric_id(create["sender_id"])
        recipient = str((create.get("target") or {}).get("recipient_id", ""))
        events.append(
            DmEvent(
                id=_numeric_id(event["id"]),
                text=str((create.get("message_data") or {}).get("text", "")),
                sender_id=sender_id,
                conversation_id="-".join(sorted((sender_id, recipient))),
            )
        )
    return Delivery(tuple(mentions), tuple(events))
