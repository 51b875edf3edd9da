"""``action_open_case``: open the case now and tell the customer its id and queue place."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store
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
        """The case this conversation already opened (a repeated confirmation), else a new one."""
        case_id = tracker.get_slot("case_id")
        existing = case_store().find(case_id) if case_id else None
        if existing is not None and existing.status in ACTIVE_STATUSES:
            return existing
        intent = tracker.get_slot("case_intent") or "request_human"
        return open_case(tracker, intent, priority_of(tracker))
