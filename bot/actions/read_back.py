"""``action_read_back``: show what was collected before the case is opened."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.details import UNKNOWN
from bot.actions.families import DETAIL_SLOTS, FAMILY_SLOTS, GENERAL
from bot.language import SLOT, known
from bot.language.variations import for_language

UNKNOWN_VALUE = "utter_value_unknown"  # needs the domain: `send_domain` in the domain's actions


def read_back_response(family: str | None) -> str:
    """The family's summary response: ``utter_read_back_<family>`` (general when unknown)."""
    return f"utter_read_back_{family if family in FAMILY_SLOTS else GENERAL}"


class ActionReadBack(Action):
    """Sends the family's summary with Yes/No; a detail not known reads "unknown" in the customer's language."""

    def name(self) -> str:
        return "action_read_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        variations = (domain.get("responses") or {}).get(UNKNOWN_VALUE) or [{"text": UNKNOWN}]
        unknown = str(for_language(variations, known(tracker.get_slot(SLOT)))["text"])
        values = {slot: tracker.get_slot(slot) or UNKNOWN for slot in DETAIL_SLOTS}
        shown = {slot: unknown if value == UNKNOWN else value for slot, value in values.items()}
        dispatcher.utter_message(response=read_back_response(tracker.get_slot("case_family")), **shown)
        return []
