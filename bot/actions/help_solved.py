"""``action_help_solved``: "Did this solve it?" - Yes. The article is recorded as helpful and the matter closed."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.families import CASE_SLOTS, DETAIL_SLOTS, HELP_SLOTS
from bot.actions.help_access import helpful_articles
from bot.language import SLOT, known

GLAD = "utter_glad_to_help"


class ActionHelpSolved(Action):
    """Records the last answer's article as helpful, says so, and clears the matter's slots (no case is opened)."""

    def name(self) -> str:
        return "action_help_solved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        article = tracker.get_slot("help_article")
        if article:
            await asyncio.to_thread(helpful_articles().record, article, known(tracker.get_slot(SLOT)))
        dispatcher.utter_message(response=GLAD)
        return [SlotSet(slot, None) for slot in (*DETAIL_SLOTS, *CASE_SLOTS, *HELP_SLOTS)]
