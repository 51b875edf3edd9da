"""The X API v2 through tweepy's ``AsyncClient``: mentions, replies, direct messages. No Rasa.

Reads use the app's bearer token, writes, DMs and media uploads the support account's
OAuth 1.0a keys.
Every call is paced by the rate-limit headers, waits out a 429, backs off on 5xx and
network errors, and a 403 for an endpoint the plan lacks turns that feature off (logged
once) while the others keep working. The desk replies to X customers through this module.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from tweepy.asynchronous import AsyncClient
from tweepy.errors import Forbidden, HTTPException, TooManyRequests, TwitterServerError

from connectors.twitter.ratelimit import Clock, RateLimiter, Sleep
from connectors.twitter.settings import RATE_WINDOW_SECONDS, XSettings

logger = logging.getLogger(__name__)

MENTIONS, DM_EVENTS, POST, DM_SEND, DM_MEDIA = "mentions", "dm_events", "post", "dm_send", "dm_media"
# Images the desk can put in an X direct message (media category dm_image), up to 5 MB.
# X DMs carry no documents, so a PDF cannot be sent there.
DM_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_DM_IMAGE_BYTES = 5 * 1024 * 1024
# Raw bytes per append request; base64 makes each request a third larger.
UPLOAD_CHUNK_BYTES = 1024 * 1024
MEDIA_PROCESSING_CHECKS = 10
TWEET_FIELDS = ["conversation_id", "author_id", "referenced_tweets", "created_at"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]
_PLAN_LACKS = ("client-not-enrolled", "unsupported-authentication")


class XUnavailable(Exception):
    """The request did not succeed: X kept failing (5xx, network, rate limit) or refused it."""


class XRejected(XUnavailable):
    """X refused this request itself (4xx): retrying the same request will not help."""


class XFeatureDisabled(XRejected):
    """The X plan lacks this endpoint; the feature stays off until restart."""


@dataclass(frozen=True)
class Mention:
    """A post that mentions the support account."""

    id: str
    text: str
    author_id: str
    author_username: str
    conversation_id: str
    referenced: tuple[tuple[str, str], ...] = ()

    @property
    def is_retweet(self) -> bool:
        return any(kind == "retweeted" for kind, _id in self.referenced)


@dataclass(frozen=True)
class MentionsPage:
    mentions: tuple[Mention, ...]
    newest_id: str | None
    next_token: str | None


@dataclass(frozen=True)
class DmEvent:
    """One direct message (``MessageCreate`` event), sent by the customer or by us."""

    id: str
    text: str
    sender_id: str
    conversation_id: str


@dataclass(frozen=True)
class DmPage:
    events: tuple[DmEvent, ...]
    next_token: str | None


class XSender:
    """A small, rate-aware client of the v2 endpoints the channel and the desk use.

    ``session`` is the aiohttp session tweepy sends through (one is created when none is
    given); ``sleep`` and ``clock`` pace the waits.
    """

    def __init__(
        self,
        settings: XSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        creds = settings.credentials
        self._client = AsyncClient(
            bearer_token=creds.bearer_token,
            consumer_key=creds.consumer_key,
            consumer_secret=creds.consumer_secret,
            access_token=creds.access_token,
            access_token_secret=creds.access_token_secret,
            return_type=aiohttp.ClientResponse,
        )
        self._session = session
        self._owns_session = session is None
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._limiter = RateLimiter(
            sleep=sleep,
            clock=clock,
            reserve=settings.rate_reserve,
            min_intervals={
                MENTIONS: RATE_WINDOW_SECONDS / max(settings.mentions_per_window, 1),
                DM_EVENTS: RATE_WINDOW_SECONDS / max(settings.dm_events_per_window, 1),
            },
        )
        self._disabled: set[str] = set()

    def available(self, feature: str) -> bool:
        """False once X said the plan lacks ``feature``."""
        return feature not in self._disabled

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def mentions(
        self,
        account_id: str,
        *,
        since_id: str | None = None,
        pagination_token: str | None = None,
    ) -> MentionsPage:
        """One page of mentions, newest first (``GET /2/users/:id/mentions``)."""
        body = await self._call(
            MENTIONS,
            lambda: self._client.get_users_mentions(
                account_id,
                since_id=since_id,
                pagination_token=pagination_token,
                max_results=min(max(self._settings.page_size, 5), 100),
                expansions=["author_id"],
                tweet_fields=TWEET_FIELDS,
                user_fields=["username"],
            ),
        )
        users = {u["id"]: u.get("username", "") for u in body.get("includes", {}).get("users", [])}
        meta = body.get("meta", {})
        mentions = tuple(
            Mention(
                id=t["id"],
                text=t.get("text", ""),
                author_id=t.get("author_id", ""),
                author_username=users.get(t.get("author_id", ""), ""),
                conversation_id=t.get("conversation_id", t["id"]),
                referenced=tuple((r["type"], r["id"]) for r in t.get("referenced_tweets", [])),
            )
            for t in body.get("data", [])
        )
        return MentionsPage(mentions=mentions, newest_id=meta.get("newest_id"), next_token=meta.get("next_token"))

    async def dm_events(self, *, pagination_token: str | None = None) -> DmPage:
        """One page of direct-message events across conversations, newest first (``GET /2/dm_events``)."""
        body = await self._call(
            DM_EVENTS,
            lambda: self._client.get_direct_message_events(
                event_types=["MessageCreate"],
                dm_event_fields=DM_EVENT_FIELDS,
                max_results=min(max(self._settings.page_size, 1), 100),
                pagination_token=pagination_token,
            ),
        )
        events = tuple(
            DmEvent(
                id=e["id"],
                text=e.get("text", ""),
                sender_id=e.get("sender_id", ""),
                conversation_id=e.get("dm_conversation_id", ""),
            )
            for e in body.get("data", [])
            if e.get("event_type", "MessageCreate") == "MessageCreate"
        )
        return DmPage(events=events, next_token=body.get("meta", {}).get("next_token"))

    async def reply(self, tweet_id: str, text: str) -> str:
        """Post ``text`` as a reply to ``tweet_id``; return the new post's id."""
        body = await self._call(POST, lambda: self._client.create_tweet(text=text, in_reply_to_tweet_id=tweet_id))
        return str(body["data"]["id"])

    async def send_dm(self, participant_id: str, text: str, *, media_id: str | None = None) -> str:
        """Send a direct message (with an uploaded image) to the user ``participant_id``; return the DM event id."""
        body = await self._call(
            DM_SEND,
            lambda: self._client.create_direct_message(participant_id=participant_id, text=text, media_id=media_id),
        )
        return str(body["data"]["dm_event_id"])

    async def upload_dm_image(self, data: bytes, mime_type: str) -> str:
        """Upload an image for a direct message through X's v2 chunked upload; return its media id.

        tweepy has no v2 media upload, so the three steps (initialize, append, finalize) go
        through its signed ``request``, on the same session and with the same pacing as
        every other call. Anything X cannot put in a DM is refused before uploading.
        """
        if mime_type not in DM_IMAGE_TYPES:
            allowed = ", ".join(sorted(DM_IMAGE_TYPES))
            raise XRejected(f"X direct messages carry images only ({allowed}), not {mime_type}")
        if not data or len(data) > MAX_DM_IMAGE_BYTES:
            raise XRejected(f"an image for an X direct message must be 1 byte to 5 MB, not {len(data)} bytes")
        started = await self._upload_step(
            "initialize", {"media_type": mime_type, "total_bytes": len(data), "media_category": "dm_image"}
        )
        media_id = str(started["data"]["id"])
        for index, offset in enumerate(range(0, len(data), UPLOAD_CHUNK_BYTES)):
            chunk = base64.b64encode(data[offset : offset + UPLOAD_CHUNK_BYTES]).decode("ascii")
            await self._upload_step(f"{media_id}/append", {"media": chunk, "segment_index": index})
        finished = await self._upload_step(f"{media_id}/finalize", None)
        await self._await_processing(media_id, finished["data"].get("processing_info"))
        return media_id

    async def _upload_step(self, step: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        return await self._call(
            DM_MEDIA,
            lambda: self._client.request("POST", f"/2/media/upload/{step}", params={}, json=payload, user_auth=True),
        )

    async def _await_processing(self, media_id: str, processing: Mapping[str, Any] | None) -> None:
        """Wait while X processes the upload (rare for images); a failed upload is refused."""
        for _check in range(MEDIA_PROCESSING_CHECKS):
            state = (processing or {}).get("state", "succeeded")
            if state == "succeeded":
                return
            if state == "failed":
                raise XRejected(f"X could not process the image: {processing}")
            await self._sleep(float((processing or {}).get("check_after_secs", 1)))
            status = await self._call(
                DM_MEDIA,
                lambda: self._client.request(
                    "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}, user_auth=True
                ),
            )
            processing = status["data"].get("processing_info")
        raise XUnavailable(f"X was still processing image {media_id} after {MEDIA_PROCESSING_CHECKS} checks")

    def _bind_session(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._client.session = self._session

    async def _call(self, feature: str, request: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """Run ``request`` with pacing, waiting and retries; return the JSON body."""
        if feature in self._disabled:
            raise XFeatureDisabled(feature)
        self._bind_session()
        failures = 0
        while True:
            await self._limiter.wait(feature)
            try:
                response: aiohttp.ClientResponse = await request()
            except TooManyRequests as exc:
                self._limiter.observe(feature, exc.response.headers)
                delay = self._limiter.exhausted(feature, exc.reset_time) + 1.0
                failures += 1
                logger.warning("X rate limit hit on %s; waiting %.0fs until the window resets", feature, delay)
            except Forbidden as exc:
                raise await self._forbidden(feature, exc) from exc
            except (TwitterServerError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures += 1
                delay = min(self._settings.backoff_seconds * 2 ** (failures - 1), self._settings.backoff_max_seconds)
                logger.warning("X %s failed (%s); retrying in %.0fs", feature, _describe(exc), delay)
            except HTTPException as exc:
                logger.error("X rejected %s: %s", feature, _describe(exc))
                raise XRejected(f"{feature}: {_describe(exc)}") from exc
            else:
                self._limiter.observe(feature, response.headers)
                body: dict[str, Any] = await response.json()
                return body
            if failures >= self._settings.max_attempts:
                raise XUnavailable(f"{feature}: gave up after {failures} attempts")
            await self._sleep(delay)

    async def _forbidden(self, feature: str, exc: Forbidden) -> XRejected:
        """A plan that lacks the endpoint turns the feature off; any other 403 fails this call only."""
        body = await _json(exc.response)
        if body.get("reason") in _PLAN_LACKS or str(body.get("type", "")).endswith("/client-forbidden"):
            self._disabled.add(feature)
            logger.error(
                "X API plan has no access to %s (%s: %s). This feature is now off until restart; the rest keeps "
                "working. Upgrade the plan or set the X_* settings accordingly.",
                feature,
                body.get("reason") or body.get("title"),
                body.get("detail", ""),
            )
            return XFeatureDisabled(feature)
        logger.error("X refused %s: %s", feature, _describe(exc))
        return XRejected(f"{feature}: {_describe(exc)}")


async def _json(response: aiohttp.ClientResponse) -> Mapping[str, Any]:
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(exc: BaseException) -> str:
    return str(exc).replace("\n", " ") or type(exc).__name__
