"""``action_handoff``: the customer asked for a person, at any point of the conversation."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store, channel_of
from bot.actions.families import latest_problem_turn
from bot.actions.opening import open_case, priority_of, tell_queue_place
from bot.cases.priorities import P3, priority_for
from bot.cases.store import ACTIVE_STATUSES, Case

REQUESTED_SLOT = "requested_slot"


class ActionHandoff(Action):
    """Opens the case (or escalates the open one to at least P3), stops the form, says who takes over."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        case = await asyncio.to_thread(self._case_for_agent, tracker)
        await asyncio.to_thread(tell_queue_place, dispatcher, tracker, case, "utter_handoff")
        return [SlotSet("case_id", case.id), SlotSet(REQUESTED_SLOT, None), ActiveLoop(None)]

    @staticmethod
    def _case_for_agent(tracker: Tracker) -> Case:
        store = case_store()
        case_id = tracker.get_slot("case_id")
        case = store.find(case_id) if case_id else None
        if case is None or case.status not in ACTIVE_STATUSES:
            case = store.active_case(channel_of(tracker), tracker.sender_id)
        if case is None:
            intent = tracker.get_slot("case_intent") or "request_human"
            wanted = min(priority_of(tracker, default=P3), priority_for("request_human"))
            turn = latest_problem_turn(tracker)
            asked = {"description": turn.description} if turn and not tracker.get_slot("description") else {}
            return open_case(tracker, intent, wanted, **asked)
        if case.priority > P3:
            store.set_priority(case.id, P3)
            case = store.get(case.id)
        return case
