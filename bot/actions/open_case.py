"""``action_open_case``: open the case now and tell the customer its id and queue place."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store, channel_of
from bot.actions.opening import open_case, priority_of, tell_queue_place
from bot.cases.priorities import P1
from bot.cases.store import ACTIVE_STATUSES, Case
from bot.settings import Settings


class ActionOpenCase(Action):
    """P1: first reply, with the security steps. P2-P4: after the customer confirmed the read-back."""

    def name(self) -> str:
        return "action_open_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        case = await asyncio.to_thread(self._open_or_reuse, tracker)
        if case.priority == P1:
            settings = Settings.from_env()
            dispatcher.utter_message(
                response="utter_security_steps",
                case_id=case.id,
                official_domains=", ".join(settings.official_domains),
                support_handles=", ".join(settings.support_handles),
            )
            await asyncio.to_thread(tell_queue_place, dispatcher, tracker, case, "utter_queue_place")
        else:
            await asyncio.to_thread(tell_queue_place, dispatcher, tracker, case, "utter_case_opened")
        return [SlotSet("case_id", case.id)]

    @staticmethod
    def _open_or_reuse(tracker: Tracker) -> Case:
        """The case this conversation opened (a repeated confirmation, a try it never learnt of), else a new one."""
        case_id = tracker.get_slot("case_id")
        existing = case_store().find(case_id) if case_id else None
        if existing is not None and existing.status in ACTIVE_STATUSES:
            return existing
        intent = tracker.get_slot("case_intent") or "request_human"
        return case_of_a_lost_try(tracker, intent) or open_case(tracker, intent, priority_of(tracker))


def case_of_a_lost_try(tracker: Tracker, intent: str) -> Case | None:
    """The open case an earlier try of this conversation's problem opened, whose outcome the conversation lost.

    A call to this action that opened the case and then failed (a timeout, the action server
    killed) leaves the case without the tracker ever naming it; the customer, told to send the
    message again, would otherwise get a second case and the agents a second alert. Such a
    case is this session's, of the same problem, and never in a ``case_id`` slot.
    """
    case = case_store().active_case(channel_of(tracker), tracker.sender_id)
    if case is None or case.intent != intent:
        return None
    named = {e.get("value") for e in tracker.events if e.get("event") == "slot" and e.get("name") == "case_id"}
    session_start = min((float(e["timestamp"]) for e in tracker.events if e.get("timestamp")), default=None)
    if case.id in named or session_start is None or case.created_at.timestamp() < session_start:
        return None
    return case
