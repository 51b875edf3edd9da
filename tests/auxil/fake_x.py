"""A fake X API v2 over HTTPS on 127.0.0.1, speaking the real JSON shapes, for tweepy's AsyncClient.

tweepy always calls https://api.twitter.com; ``FakeX.session()`` gives an aiohttp session
whose resolver sends api.twitter.com (and api.x.com) here and which trusts the test CA,
so the production code path is unchanged. Every request is recorded, body included.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import aiohttp
import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver

HOSTS = ("api.twitter.com", "api.x.com")
MENTIONS, TWEETS, DM_EVENTS, DM_SEND, MEDIA = "mentions", "tweets", "dm_events", "dm_send", "media"
RATE_LIMIT = 75
X_EPOCH_MS = 1288834974657


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    status: int
    reset_in: int = 60
    remaining: int = 0
    delay: float = 0.0  # seconds the request hangs before the fault is answered


@lru_cache(maxsize=1)
def test_ca() -> trustme.CA:
    """One test CA and server certificate per test run: making keys is the slow part."""
    return trustme.CA()


@lru_cache(maxsize=1)
def _server_cert() -> trustme.LeafCert:
    return test_ca().issue_cert(*HOSTS)


class _Resolver(AbstractResolver):
    def __init__(self, port: int) -> None:
        self._port = port

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if host not in HOSTS:
            raise OSError(f"tests have no network: {host}")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": self._port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


@dataclass
class FakeX:
    """The support account ``account_id`` and what X holds for it."""

    account_id: str = "1000"
    account_username: str = "ExampleSupport"
    users: dict[str, str] = field(default_factory=dict)
    tweets: list[dict[str, Any]] = field(default_factory=list)
    dm_events: list[dict[str, Any]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    remaining: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    _sequence: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _ssl: ssl.SSLContext | None = None
    port: int = 0
    ca: trustme.CA = field(default_factory=lambda: test_ca())

    def _id(self) -> str:
        """A snowflake id like X's: milliseconds since the X epoch, then a sequence."""
        self._sequence += 1
        return str(((int(time.time() * 1000) - X_EPOCH_MS) << 22) + self._sequence)

    # -- scripting -------------------------------------------------------------------------

    def mention(
        self, text: str, *, author_id: str = "2001", username: str = "alice", retweet_of: str | None = None
    ) -> str:
        """A new post mentioning the account; returns its id."""
        tweet_id = self._id()
        self.users[author_id] = username
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "conversation_id": tweet_id,
            "created_at": _now_iso(),
            "edit_history_tweet_ids": [tweet_id],
        }
        if retweet_of:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
        self.tweets.append(tweet)
        return tweet_id

    def dm(self, sender_id: str, text: str) -> str:
        """A new direct message from ``sender_id`` to the account; returns the event id."""
        event_id = self._id()
        self.dm_events.append(
            {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": text,
                "sender_id": sender_id,
                "dm_conversation_id": _conversation(self.account_id, sender_id),
                "created_at": _now_iso(),
            }
        )
        return event_id

    def fail(self, endpoint: str, *statuses: int, reset_in: int = 60, delay: float = 0.0) -> None:
        """The next requests to ``endpoint`` get ``statuses``, each after hanging ``delay`` seconds."""
        self.faults.setdefault(endpoint, []).extend(Fault(s, reset_in, delay=delay) for s in statuses)

    def delivered_dms(self, participant_id: str) -> list[str]:
        """Texts of the DMs X accepted for ``participant_id`` (``sent_dms`` also lists refused attempts)."""
        conversation = _conversation(self.account_id, participant_id)
        return [
            e["text"]
            for e in self.dm_events
            if e["sender_id"] == self.account_id and e["dm_conversation_id"] == conversation
        ]

    async def refuse_connections(self) -> None:
        """Stop listening and drop open connections: clients get "connection refused" until ``accept_connections``."""
        assert self._site is not None and self._runner is not None and self._runner.server is not None
        await self._site.stop()
        await self._runner.server.shutdown(0.1)
        self._site = None

    async def accept_connections(self) -> None:
        """Listen again, on the same port."""
        assert self._runner is not None and self._site is None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl, reuse_address=True)
        await self._site.start()

    def sent_dms(self, participant_id: str | None = None) -> list[str]:
        return [r.json["text"] for r in self._dm_requests(participant_id)]

    def sent_dm_images(self, participant_id: str) -> list[bytes]:
        """The uploaded bytes of every image sent in a DM to ``participant_id``."""
        return [
            self.uploads[a["media_id"]]["data"]
            for r in self._dm_requests(participant_id)
            for a in r.json.get("attachments", [])
        ]

    def _dm_requests(self, participant_id: str | None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and r.path.endswith("/messages")
            and (participant_id is None or f"/with/{participant_id}/" in r.path)
        ]

    def replies(self) -> list[dict[str, Any]]:
        return list(self.posts)

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if _endpoint(r.method, r.path) == endpoint]

    # -- server ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record], client_max_size=16 * 1024 * 1024)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_post("/2/dm_conversations/with/{participant}/messages", self._send_dm)
        app.router.add_post("/2/media/upload/initialize", self._upload_initialize)
        app.router.add_post("/2/media/upload/{id}/append", self._upload_append)
        app.router.add_post("/2/media/upload/{id}/finalize", self._upload_finalize)
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (_server_cert() if self.ca is test_ca() else self.ca.issue_cert(*HOSTS)).configure_cert(self._ssl)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def session(self) -> aiohttp.ClientSession:
        """A client session that reaches this server as api.twitter.com over verified TLS."""
        client_ctx = ssl.create_default_context()
        self.ca.configure_trust(client_ctx)
        connector = aiohttp.TCPConnector(resolver=_Resolver(self.port), ssl=client_ctx)
        return aiohttp.ClientSession(connector=connector)

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.query), dict(request.headers), body))
        endpoint = _endpoint(request.method, request.path)
        auth = request.headers.get("Authorization", "")
        user_context = endpoint in (TWEETS, DM_EVENTS, DM_SEND, MEDIA)
        if (user_context and not auth.startswith("OAuth ")) or (not user_context and not auth.startswith("Bearer ")):
            return _problem(401, "Unauthorized", "Unauthorized", {})
        limit_headers = self._limit_headers(endpoint)
        if endpoint in self.disabled:
            return web.json_response(
                {
                    "client_id": "12345",
                    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
                    "tokens from a Twitter developer App that is attached to a Project.",
                    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                    "title": "Client Forbidden",
                    "required_enrollment": "Appropriate Level of API Access",
                    "reason": "client-not-enrolled",
                    "type": "https://api.twitter.com/2/problems/client-forbidden",
                },
                status=403,
                headers=limit_headers,
            )
        queue = self.faults.get(endpoint) or []
        if queue:
            fault = queue.pop(0)
            await asyncio.sleep(fault.delay)
            if fault.status == 429:
                headers = {**limit_headers, "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(int(time.time()) + fault.reset_in)}  # fmt: skip
                return _problem(429, "Too Many Requests", "Too Many Requests", headers)
            return _problem(fault.status, "Service Unavailable", "Service Unavailable", limit_headers)
        response = await handler(request)
        response.headers.update(limit_headers)
        return response

    def _limit_headers(self, endpoint: str) -> dict[str, str]:
        left = self.remaining.get(endpoint, RATE_LIMIT) - 1
        self.remaining[endpoint] = max(left, 0)
        return {
            "x-rate-limit-limit": str(RATE_LIMIT),
            "x-rate-limit-remaining": str(max(left, 0)),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    async def _mentions(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != self.account_id:
            return _problem(400, "Invalid Request", "unknown user", {})
        since = int(request.query.get("since_id", "0"))
        size = int(request.query.get("max_results", "10"))
        offset = int(request.query.get("pagination_token", "0") or 0)
        matching = sorted((t for t in self.tweets if int(t["id"]) > since), key=lambda t: -int(t["id"]))
        page = matching[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + size < len(matching):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            fields = set(request.query.get("tweet.fields", "").split(","))
            body["data"] = [
                {k: v for k, v in t.items() if k in {"id", "text", "edit_history_tweet_ids"} | fields} for t in page
            ]
            if "author_id" in request.query.get("expansions", ""):
                authors = dict.fromkeys(t["author_id"] for t in page)
                body["includes"] = {
                    "users": [{"id": a, "name": self.users[a].title(), "username": self.users[a]} for a in authors]
                }
        return web.json_response(body)

    async def _create_tweet(self, request: web.Request) -> web.Response:
        payload = await request.json()
        tweet_id = self._id()
        self.posts.append({"id": tweet_id, **payload})
        return web.json_response(
            {"data": {"id": tweet_id, "text": payload["text"], "edit_history_tweet_ids": [tweet_id]}}, status=201
        )

    async def _dm_events(self, request: web.Request) -> web.Response:
        size = int(request.query.get("max_results", "100"))
        offset = int(request.query.get("pagination_token", "0") or 0)
        events = sorted(self.dm_events, key=lambda e: -int(e["id"]))
        page = events[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if offset + size < len(events):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = page
        return web.json_response(body)

    async def _send_dm(self, request: web.Request) -> web.Response:
        participant = request.match_info["participant"]
        payload = await request.json()
        for attachment in payload.get("attachments", []):
            upload = self.uploads.get(attachment.get("media_id", ""))
            if upload is None or not upload["finalized"]:
                return _problem(400, "Invalid Request", f"unknown media id {attachment.get('media_id')}", {})
        event_id = self._id()
        conversation = _conversation(self.account_id, participant)
        self.dm_events.append(
            {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": payload["text"],
                "sender_id": self.account_id,
                "dm_conversation_id": conversation,
                "created_at": _now_iso(),
            }
        )
        return web.json_response({"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}}, status=201)

    async def _upload_initialize(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if payload.get("media_category") not in {"dm_image", "tweet_image"} or "total_bytes" not in payload:
            return _problem(400, "Invalid Request", "media_category and total_bytes are required", {})
        media_id = self._id()
        self.uploads[media_id] = {**payload, "chunks": {}, "finalized": False}
        return web.json_response(
            {"data": {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}}, status=200
        )

    async def _upload_append(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["id"])
        payload = await request.json()
        if upload is None or upload["finalized"]:
            return _problem(400, "Invalid Request", "no open upload with this id", {})
        upload["chunks"][int(payload["segment_index"])] = base64.b64decode(payload["media"], validate=True)
        return web.json_response({"data": {"expires_at": int(time.time()) + 86400}})

    async def _upload_finalize(self, request: web.Request) -> web.Response:
        media_id = request.match_info["id"]
        upload = self.uploads.get(media_id)
        if upload is None:
            return _problem(400, "Invalid Request", "no upload with this id", {})
        data = b"".join(upload["chunks"][i] for i in sorted(upload["chunks"]))
        if len(data) != upload["total_bytes"]:
            return _problem(400, "Invalid Request", f"expected {upload['total_bytes']} bytes, got {len(data)}", {})
        upload.update(data=data, finalized=True)
        return web.json_response(
            {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data), "expires_after_secs": 86400}}
        )


def _endpoint(method: str, path: str) -> str:
    if path.startswith("/2/media/upload"):
        return MEDIA
    if path.endswith("/mentions"):
        return MENTIONS
    if path == "/2/tweets":
        return TWEETS
    if path == "/2/dm_events":
        return DM_EVENTS
    return DM_SEND if method == "POST" and path.endswith("/messages") else "other"


def _problem(status: int, title: str, detail: str, headers: dict[str, str]) -> web.Response:
    return web.json_response(
        {"title": title, "detail": detail, "type": "about:blank", "status": status}, status=status, headers=headers
    )


def _conversation(a: str, b: str) -> str:
    return "-".join(sorted((a, b), key=int))


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
