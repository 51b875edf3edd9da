"""Where outbox rows go: agents' group, signed webhook, customer notices (the live feed is `live`).

The customer destination carries only the honest "nobody is on duty" notice.

Each destination raises on failure; the dispatcher then retries it later with back-off.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import aiohttp
from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode

from bot.cases.agent_directory import AgentDirectory
from bot.cases.agents import DutyRoster, OnDuty
from bot.cases.deliveries import Delivery, DeliveryLedger
from bot.cases.escalations import NO_AGENT_FLAG, P1_REALERT_FLAG, Escalations
from bot.cases.priorities import P1
from bot.cases.routing import Routing
from bot.cases.store import OPEN, Case, CaseStore
from bot.desk.alerts import (
    LINE_CHARS,
    alert_buttons,
    alert_text,
    clip,
    digest_buttons,
    digest_text,
    mention,
    on_duty_mentions,
)
from bot.desk.budget import SendBudget
from bot.desk.relay import CustomerRelay
from bot.desk.signing import signed_headers
from bot.desk.texts import NO_AGENT, CustomerTexts

CASE_OPENED = "case_opened"
FULL_ALERTS = (CASE_OPENED, P1_REALERT_FLAG)


class Destination(Protocol):
    name: str

    async def deliver(self, delivery: Delivery) -> None: ...


@dataclass(frozen=True)
class Settled:
    """What a digest took care of: rows named in its message or with nothing to say; ``sent``: a message went."""

    rows: list[Delivery]
    sent: bool


@runtime_checkable
class PacedDestination(Destination, Protocol):
    """A destination with a sending budget, which may alert several new cases in one message."""

    @property
    def budget(self) -> SendBudget: ...

    async def deliver_digest(self, due: Sequence[Delivery]) -> Settled: ...


def case_json(case: Case, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A case as JSON for the desk page and the webhook."""
    data: dict[str, Any] = {
        "id": case.id,
        "intent": case.intent,
        "priority": case.priority,
        "status": case.status,
        "channel": case.channel,
        "language": case.language,
        "summary": case.summary,
        "details": case.details,
        "assignee": case.assignee,
        "rating": case.rating,
        "rating_comment": case.rating_comment or None,  # "" is a skipped comment: nothing to show
        "created_at": case.created_at.isoformat(),
        "claimed_at": case.claimed_at.isoformat() if case.claimed_at else None,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
    }
    if attachments is not None:
        data["attachments"] = [
            {"id": a["id"], "name": a["name"], "kind": a["kind"], "mime_type": a["mime_type"], "size": a["size"]}
            for a in attachments
        ]
    return data


class TelegramGroup:
    """Alerts in the agents' group via the agents' own bot; later events reply to the alert."""

    name = "telegram_group"
    budget: SendBudget

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        store: CaseStore,
        ledger: DeliveryLedger,
        roster: DutyRoster,
        *,
        directory: AgentDirectory | None = None,
        routing: Callable[[], Routing] | None = None,  # the routing in force at each alert
        allowed_ids: tuple[int, ...] = (),
        desk_origin: str | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.budget = budget or SendBudget()
        self._bot = bot
        self._chat_id = chat_id
        self._store = store
        self._ledger = ledger
        self._roster = roster
        self._directory = directory
        self._routing = routing
        self._allowed_ids = allowed_ids
        self._desk_origin = desk_origin

    async def deliver(self, delivery: Delivery) -> None:
        case = await asyncio.to_thread(self._store.get, delivery.case_id)
        if delivery.event == P1_REALERT_FLAG and case.status != OPEN:
            return  # held up (the group out of reach) until an agent had claimed it: calling everyone is wrong now
        if delivery.event in FULL_ALERTS:
            text = await self._full_alert(case, delivery)
            message = await self._bot.send_message(
                self._chat_id, text, parse_mode=ParseMode.HTML, reply_markup=alert_buttons(case.id)
            )
        else:
            line = update_line(case, delivery.event, delivery.payload)
            if line is None:
                return
            first = await asyncio.to_thread(self._ledger.first_alert_message, case.id, self._chat_id)
            reply = ReplyParameters(message_id=first, allow_sending_without_reply=True) if first else None
            message = await self._bot.send_message(self._chat_id, clip(line, LINE_CHARS), reply_parameters=reply)
        await asyncio.to_thread(self._ledger.remember_alert_message, case.id, self._chat_id, message.message_id)

    async def deliver_digest(self, due: Sequence[Delivery]) -> Settled:
        """What waited for the budget, in one message; the rows it settled (named or moot), and whether it sent.

        New cases come first with a Claim button each for the first ten, then P1 cases still
        unclaimed (everyone is called), then update lines. The message is not remembered as
        any one case's alert, so a reply to it reaches no customer; a case's claim line,
        which follows, becomes its thread here.
        """
        cases = await asyncio.to_thread(self._store.get_many, {d.case_id for d in due})
        opened: list[Delivery] = []
        realerts: list[Delivery] = []
        lines: list[tuple[Delivery, str]] = []
        moot: list[Delivery] = []  # a purged case, a re-alert of a case claimed since, an event agents need not see
        for delivery in due:
            case = cases.get(delivery.case_id)
            if case is None:
                moot.append(delivery)
            elif delivery.event == CASE_OPENED:
                opened.append(delivery)
            elif delivery.event == P1_REALERT_FLAG:
                (realerts if case.status == OPEN else moot).append(delivery)
            elif (line := update_line(case, delivery.event, delivery.payload)) is not None:
                lines.append((delivery, line))
            else:
                moot.append(delivery)
        mentions: list[str] = []
        if realerts:
            mentions = await asyncio.to_thread(self._everyone_mentions)
        elif any(cases[d.case_id].priority == P1 for d in opened):
            mentions = on_duty_mentions(await asyncio.to_thread(self._roster.current))
        digest = digest_text(
            [cases[d.case_id] for d in opened],
            [cases[d.case_id] for d in realerts],
            [line for _, line in lines],
            mentions=mentions,
            desk_origin=self._desk_origin,
        )
        named = [*opened[: digest.new], *realerts[: digest.unclaimed], *(d for d, _ in lines[: digest.updates])]
        if named:
            buttons = digest_buttons([d.case_id for d in opened[: digest.detailed]]) if digest.detailed else None
            await self._bot.send_message(self._chat_id, digest.text, parse_mode=ParseMode.HTML, reply_markup=buttons)
        return Settled([*named, *moot], sent=bool(named))

    async def _full_alert(self, case: Case, delivery: Delivery) -> str:
        attachments = await asyncio.to_thread(self._store.attachments, case.id)
        on_duty = await asyncio.to_thread(self._roster.current)
        mentions: list[str] = []
        headline = None
        if delivery.event == P1_REALERT_FLAG:
            seconds = int(delivery.payload.get("waited_seconds", 0))
            headline = f"Still unclaimed after {seconds} s: everyone please look"
            mentions = await asyncio.to_thread(self._everyone_mentions, on_duty)
        elif case.priority == P1:
            mentions = on_duty_mentions(await asyncio.to_thread(self._team_first, case, on_duty)) or [
                "nobody is on duty"
            ]
        return alert_text(case, attachments, mentions=mentions, headline=headline, desk_origin=self._desk_origin)

    def _team_first(self, case: Case, on_duty: list[OnDuty]) -> list[OnDuty]:
        """A P1 calls the agents on duty in its team; everyone on duty when none of them is (the re-alert calls all)."""
        if self._routing is None or self._directory is None:
            return on_duty
        team = self._routing().team_of(case)
        members = {a.name for a in self._directory.all() if team in a.teams}
        return [a for a in on_duty if a.agent in members] or on_duty

    def _everyone_mentions(self, on_duty: list[OnDuty] | None = None) -> list[str]:
        """Every agent who can act in the group: linked agents, the allow-list, and whoever is on duty."""
        linked = self._directory.all() if self._directory is not None else []
        everyone = {a.telegram_user_id: a.name for a in linked if a.active and a.telegram_user_id is not None}
        for uid in self._allowed_ids:
            everyone.setdefault(uid, f"agent {uid}")
        on_duty = self._roster.current() if on_duty is None else on_duty
        everyone.update({a.telegram_user_id: a.agent for a in on_duty if a.telegram_user_id is not None})
        return [mention(name, uid) for uid, name in everyone.items()] + [
            mention(a.agent, None) for a in on_duty if a.telegram_user_id is None
        ]


def update_line(case: Case, event: str, payload: dict[str, Any]) -> str | None:
    """One line about a later event of a case, or None for events agents need not see."""
    if event == "customer_message":
        return f"Customer on {case.id}: {payload.get('text', '')}"
    if event == "case_updated":
        if "priority" in payload:
            return f"{case.id} priority is now P{payload['priority']}"
        details = ", ".join(f"{k}: {v}" for k, v in (payload.get("details") or {}).items())
        return f"New details on {case.id}: {details}"
    if event == "attachment_added":
        return f"Attachment on {case.id}: {payload.get('name', '')}"
    if event == "case_claimed":
        return f"{case.id} claimed by {payload.get('agent', '?')}"
    if event == "case_released":
        return f"{case.id} handed back to the bot; open for another agent"
    if event == "case_resolved":
        return f"{case.id} resolved by {payload.get('agent', '?')}"
    if event == "case_transferred":
        to = " and ".join(str(part) for part in (payload.get("team"), payload.get("agent")) if part)
        return f"{case.id} transferred to {to} by {payload.get('by', '?')}"
    if event == "case_reopened":
        return f"{case.id} reopened by {payload.get('agent', '?')}; open for an agent"
    if event == "case_cancelled":
        return f"{case.id} cancelled by the customer"
    if event == NO_AGENT_FLAG:
        return f"Nobody was on duty: the customer of {case.id} was told an agent will answer in their chat"
    return None


class Webhook:
    """JSON POST signed with HMAC-SHA256 over ``"<timestamp>.<body>"``."""

    name = "webhook"

    def __init__(self, session: aiohttp.ClientSession, url: str, secret: str, store: CaseStore) -> None:
        self._session = session
        self._url = url
        self._secret = secret
        self._store = store

    async def deliver(self, delivery: Delivery) -> None:
        case = await asyncio.to_thread(self._store.get, delivery.case_id)
        attachments = await asyncio.to_thread(self._store.attachments, case.id)
        body = json.dumps(
            {
                "delivery_id": delivery.outbox_id,
                "event": delivery.event,
                "occurred_at": delivery.created_at.isoformat(),
                "payload": delivery.payload,
                "case": case_json(case, attachments),
            },
            sort_keys=True,
        ).encode()
        headers = {"Content-Type": "application/json", **signed_headers(self._secret, body)}
        async with self._session.post(self._url, data=body, headers=headers) as response:
            if response.status >= 300:
                raise RuntimeError(f"webhook answered HTTP {response.status}")


class CustomerNotices:
    """Tell a waiting customer, once, that nobody is on duty and how they will be reached.

    Checked when the case opens (the notice is enqueued as its own outbox row, flagged so
    the escalation watcher or the bot's own opening message never repeat it) and delivered
    through the customer's channel.
    """

    name = "customer_notice"

    def __init__(
        self, relay: CustomerRelay, store: CaseStore, roster: DutyRoster, escalations: Escalations, texts: CustomerTexts
    ) -> None:
        self._relay = relay
        self._store = store
        self._roster = roster
        self._escalations = escalations
        self._texts = texts

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.event == "case_opened":
            if not await asyncio.to_thread(self._roster.current):
                await asyncio.to_thread(
                    self._escalations.once, delivery.case_id, NO_AGENT_FLAG, NO_AGENT_FLAG, {"at_open": True}
                )
            return
        if delivery.event != NO_AGENT_FLAG:
            return
        case = await asyncio.to_thread(self._store.get, delivery.case_id)
        if case.status != "open":
            return
        info = await asyncio.to_thread(self._store.queue_info, case.id)
        text = self._texts.render(
            NO_AGENT, case.language, case_id=case.id, place=info.place, wait_minutes=info.estimated_wait_minutes
        )
        await self._relay.send(case, text, author="desk", role="bot")
