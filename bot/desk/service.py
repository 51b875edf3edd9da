"""Agent actions, the same for the desk page and the agents' Telegram group; each one audited.

One owner per case: replying needs the claim (an unclaimed case is claimed by the first
reply), and another agent's case cannot be answered, resolved, handed back or reprioritised.
An admin may take over or transfer anyone's case; a removed agent's cases go back to the queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.cases.agents import DutyRoster
from bot.cases.audit import ACTION_LENGTH, ACTOR_LENGTH, AuditLog
from bot.cases.customer_links import LINK, UNLINK, CustomerLinks, handle_of, is_handle
from bot.cases.priorities import P1, P4
from bot.cases.store import CLAIMED, OPEN, Case, CaseNotFound, CaseStore, TranscriptLine, utcnow
from bot.desk.relay import CustomerRelay, RelayUnavailable, files_refused
from bot.desk.texts import CLAIMED as CLAIMED_NOTICE
from bot.desk.texts import RATING_BUTTONS, RESOLVED, CustomerTexts
from bot.metrics import cases as case_metrics

_PLAIN_ACTION = re.compile(rf"[A-Za-z_]{{1,{ACTION_LENGTH}}}")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """A configured agent, and the door they came through (``desk`` or ``telegram``)."""

    name: str
    via: str
    is_admin: bool = False  # may take over or transfer another agent's case


class Refused(Exception):
    """The action is not allowed now; the message says why, for the agent."""


class AgentDesk:
    def __init__(
        self,
        store: CaseStore,
        audit: AuditLog,
        roster: DutyRoster,
        relay: CustomerRelay,
        texts: CustomerTexts,
        links: CustomerLinks,
    ) -> None:
        self.store = store
        self.links = links
        self.audit = audit
        self.roster = roster
        self.relay = relay
        self.texts = texts

    async def claim(self, actor: Actor, case_id: str, *, take_over: bool = False) -> Case:
        """Take the case and tell the customer; only an agent on duty can, so no case waits on someone who left.

        ``take_over``: an admin takes another agent's case (said explicitly, so two claims at
        once never turn into a take-over). A case the agent holds already is theirs again, not
        refused: a reply sent twice at once claimed it twice, and the second was refused.
        """
        case = await self._case(actor, "claim", case_id)
        on_duty = await asyncio.to_thread(self.roster.current)
        if actor.name not in {a.agent for a in on_duty}:
            raise await self._refusal(actor, "claim", case.id, "you are off duty: send /onduty or sign in on the desk")
        taken_from = None
        if not await asyncio.to_thread(self.store.claim, case.id, actor.name):
            current = await asyncio.to_thread(self.store.get, case.id)
            if current.status == CLAIMED and current.assignee == actor.name:
                return current  # already theirs (a double submit, a claim read again after a crash): nothing to do
            if take_over and _admin_over(actor, current):  # an admin moves a case its owner cannot work on
                taken_from = current.assignee
            if taken_from is None or not await asyncio.to_thread(
                self.store.take_over, case.id, owner=taken_from, agent=actor.name
            ):
                reason = (
                    f"already claimed by {current.assignee}"
                    if current.status == CLAIMED
                    else f"case is {current.status}"
                )
                raise await self._refusal(actor, "claim", case.id, reason)
        claimed = await asyncio.to_thread(self.store.get, case.id)
        notified = await self._notify(claimed, self.texts.render(CLAIMED_NOTICE, case.language, case_id=case.id), actor)
        detail: dict[str, object] = {"customer_notified": notified}
        if taken_from is not None:
            detail["taken_from"] = taken_from
        await self._done(actor, "claim", case.id, detail)
        if case.claimed_at is None and claimed.claimed_at is not None:  # its first claim, not a re-claim
            case_metrics.claimed(claimed.priority, claimed.created_at, claimed.claimed_at)
        return claimed

    async def reply(self, actor: Actor, case_id: str, text: str, *, request_id: str | None = None) -> str:
        """Answer the customer; returns ``sent``, or ``queued`` when their channel delivers later.

        ``request_id``: the page's name for the message. Sent again after the desk died before
        answering (the page says "Not sent"), it is not said twice: the line keeps it, with a
        digest of the text, as its key (another text under the same name is another message).
        """
        text = text.strip()
        if not text:
            raise Refused("empty reply")
        case = await self._take(actor, "reply", case_id)
        first = not await asyncio.to_thread(self.store.agent_has_written, case.id)
        try:
            key = f"desk-reply:{request_id}:{_digest(text)}" if request_id else None
            delivery = await self.relay.send(case, text, author=actor.name, key=key)
        except RelayUnavailable as error:
            raise await self._refusal(actor, "reply", case.id, str(error)) from error
        if first:
            case_metrics.first_response(case.priority, case.created_at, utcnow())
        await self._done(actor, "reply", case.id, {"chars": len(text)})
        return delivery

    async def send_file(self, actor: Actor, case_id: str, name: str, data: bytes, mime_type: str) -> Case:
        if not data:
            raise Refused("empty file")
        found = await self._case(actor, "send_file", case_id)
        if refusal := files_refused(found.channel):  # before the claim: a refused file takes nothing
            raise await self._refusal(actor, "send_file", found.id, refusal)
        case = await self._take(actor, "send_file", found.id)
        first = not await asyncio.to_thread(self.store.agent_has_written, case.id)
        try:
            await self.relay.send_file(case, name, data, mime_type=mime_type, author=actor.name)
        except RelayUnavailable as error:
            raise await self._refusal(actor, "send_file", case.id, str(error)) from error
        if first:
            case_metrics.first_response(case.priority, case.created_at, utcnow())
        await self._done(actor, "send_file", case.id, {"name": name, "size": len(data)})
        return case

    async def note(self, actor: Actor, case_id: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise Refused("empty note")
        case = await self._case(actor, "note", case_id)
        await asyncio.to_thread(
            self.store.record_message, case.id, TranscriptLine(role="note", text=text, author=actor.name)
        )
        await self._done(actor, "note", case.id)

    async def set_priority(self, actor: Actor, case_id: str, priority: int) -> None:
        case = await self._case(actor, "priority", case_id)
        if case.status == CLAIMED and not actor.is_admin:
            await self._owned(actor, "priority", case)
        if not P1 <= priority <= P4:
            raise await self._refusal(actor, "priority", case.id, "priority must be 1 to 4")
        await asyncio.to_thread(self.store.set_priority, case.id, priority)
        await self._done(actor, "priority", case.id, {"from": case.priority, "to": priority})

    async def resolve(self, actor: Actor, case_id: str) -> Case:
        """Close the case, tell the customer and ask for a rating; the bot then resumes."""
        case = await self._case(actor, "resolve", case_id)
        if case.status == CLAIMED:
            await self._owned(actor, "resolve", case)
        if not await asyncio.to_thread(self.store.resolve, case.id, actor.name):
            raise await self._refusal(actor, "resolve", case.id, f"case is {case.status}")
        resolved = await asyncio.to_thread(self.store.get, case.id)
        request = self.texts.render(RESOLVED, resolved.language, case_id=case.id)
        notified = await self._notify(resolved, request, actor, buttons=RATING_BUTTONS)
        await self._done(actor, "resolve", case.id, {"customer_notified": notified})
        return resolved

    async def reopen(self, actor: Actor, case_id: str) -> Case:
        """A closed case back in the queue, unless the customer has another case open on that conversation."""
        case = await self._case(actor, "reopen", case_id)
        other = await asyncio.to_thread(self.store.active_case, case.channel, case.sender_id)
        if other is not None:
            raise await self._refusal(actor, "reopen", case.id, f"the customer's case {other.id} is {other.status}")
        if not await asyncio.to_thread(self.store.reopen, case.id, actor.name):
            raise await self._refusal(actor, "reopen", case.id, f"case is {case.status}")
        await self._done(actor, "reopen", case.id)
        return await asyncio.to_thread(self.store.get, case.id)

    async def transfer(self, actor: Actor, case_id: str, *, team: str | None, agent: str | None, note: str) -> Case:
        """Pass the case to a team (it waits for one of them) or an agent on duty (it is theirs), with a note.

        A claimed case is passed on by its owner (or an admin); the note lands on the case for whoever takes it.
        """
        note = note.strip()
        if not note:
            raise Refused("say why in a note: whoever takes the case reads it")
        if team is None and agent is None:
            raise Refused("transfer to a team or an agent")
        case = await self._case(actor, "transfer", case_id)
        taken_from = case.assignee if _admin_over(actor, case) else None
        if case.status == CLAIMED and case.assignee != actor.name and taken_from is None:
            raise await self._refusal(actor, "transfer", case.id, f"case belongs to {case.assignee}")
        if agent is not None and agent not in {a.agent for a in await asyncio.to_thread(self.roster.current)}:
            raise await self._refusal(actor, "transfer", case.id, f"{agent} is off duty")
        if not await asyncio.to_thread(self.store.transfer, case.id, by=actor.name, team=team, agent=agent):
            raise await self._refusal(actor, "transfer", case.id, f"case is {case.status}")
        to = " and ".join(part for part in (team and f"team {team}", agent) if part)
        line = TranscriptLine(role="note", text=f"Transferred to {to}: {note}", author=actor.name)
        await asyncio.to_thread(self.store.record_message, case.id, line)
        detail: dict[str, object] = {"team": team, "agent": agent}
        if taken_from is not None:
            detail["taken_from"] = taken_from
        await self._done(actor, "transfer", case.id, detail)
        return await asyncio.to_thread(self.store.get, case.id)

    async def hand_back(self, actor: Actor, case_id: str) -> None:
        """The bot takes the conversation back; the case waits for another agent."""
        case = await self._case(actor, "hand_back", case_id)
        await self._owned(actor, "hand_back", case)
        await asyncio.to_thread(self.store.release, case.id)
        await self._done(actor, "hand_back", case.id)

    async def agent_removed(self, actor: Actor, agent: str) -> None:
        """``actor`` removed ``agent``: off duty at once, their claimed cases back in the queue (as a hand-back)."""
        await asyncio.to_thread(self.roster.off_duty, agent)
        for case_id in await asyncio.to_thread(self.store.claimed_by, agent):
            if await asyncio.to_thread(self.store.release, case_id):
                await self._done(actor, "release", case_id, {"agent": agent, "reason": "agent removed"})

    async def link_customer(self, actor: Actor, case_id: str, other: str) -> None:
        """Make the case's customer and another identity one person.

        ``other`` is what the agent typed: a case id (its customer) or a handle with cases
        (``tg:<user id>``, ``x:<user id>``, ``rest:<id>``). Refusals never repeat it: it may be
        anything, and the audit keeps the reason.
        """
        case = await self._case(actor, LINK, case_id)
        handle, typed = handle_of(case), other.strip()
        if CaseStore.is_case_id(typed):
            found = await asyncio.to_thread(self.store.find, typed)
            if found is None:
                raise await self._refusal(actor, LINK, case.id, "no case with that id")
            target = handle_of(found)
        elif is_handle(typed) and await asyncio.to_thread(self.links.has_cases, typed):
            target = typed
        else:
            raise await self._refusal(actor, LINK, case.id, "type a case id, or a handle of a customer with cases")
        if target in await asyncio.to_thread(self.links.person, handle):
            raise await self._refusal(actor, LINK, case.id, "that is already this customer")
        await asyncio.to_thread(self.links.link, handle, target, actor.name)
        await self._done(actor, LINK, case.id, {"customer": handle, "other": target})

    async def unlink_customer(self, actor: Actor, case_id: str, first: str, second: str) -> None:
        """Remove one link of the case's customer (made by anyone): the two are separate people again."""
        case = await self._case(actor, UNLINK, case_id)
        handles = await asyncio.to_thread(self.links.person, handle_of(case))
        if (
            first not in handles
            or second not in handles
            or not await asyncio.to_thread(self.links.unlink, first, second)
        ):
            raise await self._refusal(actor, UNLINK, case.id, "no such link of this customer")
        await self._done(actor, UNLINK, case.id, {"customer": first, "other": second})

    async def refuse_stranger(self, who: str, via: str, action: str, case_id: str | None = None) -> None:
        """Audit an attempt by someone who is not a configured agent.

        A stranger types the action and the case id: the audit row keeps a case id only when it
        has a case id's shape, and the action only when it is a plain word that fits its column.
        """
        known_case = case_id.upper() if case_id and CaseStore.is_case_id(case_id) else None
        action = action if _PLAIN_ACTION.fullmatch(action) else "unknown"
        await asyncio.to_thread(
            self.audit.record,
            actor=who[:ACTOR_LENGTH],
            via=via,
            action=action,
            case_id=known_case,
            allowed=False,
            detail={"reason": "not an agent"},
        )

    async def _notify(self, case: Case, text: str, actor: Actor, *, buttons: Sequence[Mapping[str, str]] = ()) -> bool:
        """Tell the customer what the agent did (in the case's language); False when it could not be sent."""
        try:
            await self.relay.send(case, text, author=actor.name, role="bot", buttons=buttons)
        except Exception:
            logger.exception("case %s: the customer could not be told (%s)", case.id, text[:40])
            return False
        return True

    async def _case(self, actor: Actor, action: str, case_id: str) -> Case:
        case = await asyncio.to_thread(self.store.find, case_id.strip().upper())
        if case is None:
            await self._refusal(actor, action, None, f"no case {case_id}")
            raise CaseNotFound(case_id)
        return case

    async def _take(self, actor: Actor, action: str, case_id: str) -> Case:
        """The case ``actor`` may write to the customer on: claimed first if still open, then owned."""
        case = await self._case(actor, action, case_id)
        if case.status == OPEN:
            case = await self.claim(actor, case.id)
        await self._owned(actor, action, case)
        return case

    async def _owned(self, actor: Actor, action: str, case: Case) -> None:
        if case.status != CLAIMED:
            raise await self._refusal(actor, action, case.id, f"case is {case.status}")
        if case.assignee != actor.name:
            raise await self._refusal(actor, action, case.id, f"case belongs to {case.assignee}")

    async def _refusal(self, actor: Actor, action: str, case_id: str | None, reason: str) -> Refused:
        """Audit the refused attempt and return the error for the caller to raise."""
        await asyncio.to_thread(
            self.audit.record,
            actor=actor.name,
            via=actor.via,
            action=action,
            case_id=case_id,
            allowed=False,
            detail={"reason": reason},
        )
        return Refused(reason)

    async def _done(self, actor: Actor, action: str, case_id: str, detail: dict[str, object] | None = None) -> None:
        await asyncio.to_thread(
            self.audit.record,
            actor=actor.name,
            via=actor.via,
            action=action,
            case_id=case_id,
            detail=dict(detail or {}),
        )
        await asyncio.to_thread(self.roster.touch, actor.name)


def _admin_over(actor: Actor, case: Case) -> bool:
    """An admin acting on a case another agent has claimed."""
    return actor.is_admin and case.status == CLAIMED and case.assignee not in (None, actor.name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
