"""``action_cancel_case``: the customer wants to stop."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store, channel_of
from bot.actions.families import CASE_SLOTS, DETAIL_SLOTS
from bot.cases.store import OPEN, Case

REQUESTED_SLOT = "requested_slot"


class ActionCancelCase(Action):
    """Stops the form, clears the case's slots and cancels the case if no agent has taken it yet."""

    def name(self) -> str:
        return "action_cancel_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        case = await asyncio.to_thread(self._current_case, tracker)
        if case is None:
            dispatcher.utter_message(response="utter_cancelled")
        elif case.status == OPEN and await asyncio.to_thread(case_store().cancel, case.id):
            dispatcher.utter_message(response="utter_case_cancelled", case_id=case.id)
        else:
            dispatcher.utter_message(response="utter_case_in_progress", case_id=case.id)
        resets = [SlotSet(slot, None) for slot in (*DETAIL_SLOTS, *CASE_SLOTS, REQUESTED_SLOT)]
        return [*resets, ActiveLoop(None)]

    @staticmethod
    def _current_case(tracker: Tracker) -> Case | None:
        store = case_store()
        case_id = tracker.get_slot("case_id")
        case = store.find(case_id) if case_id else None
        if case is not None and case.status in (OPEN, "claimed"):
            return case
        return store.active_case(channel_of(tracker), tracker.sender_id)
