"""``action_read_back``: show what was collected before the case is opened."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.details import UNKNOWN
from bot.actions.families import DETAIL_SLOTS


class ActionReadBack(Action):
    """Sends the family's summary (``utter_read_back`` varies by ``case_family``) with Yes/No."""

    def name(self) -> str:
        return "action_read_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        values = {slot: tracker.get_slot(slot) or UNKNOWN for slot in DETAIL_SLOTS}
        dispatcher.utter_message(response="utter_read_back", **values)
        return []
