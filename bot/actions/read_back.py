"""``action_read_back``: show what was collected before the case is opened."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.details import UNKNOWN
from bot.actions.families import DETAIL_SLOTS, FAMILY_SLOTS, GENERAL
from bot.language import SLOT, known
from bot.language.variations import for_language

logger = logging.getLogger(__name__)
UNKNOWN_VALUE = "utter_value_unknown"  # needs the domain: `send_domain` in the domain's actions


def read_back_response(family: str | None) -> str:
    """The family's summary response: ``utter_read_back_<family>`` (general when unknown)."""
    return f"utter_read_back_{family if family in FAMILY_SLOTS else GENERAL}"


class ActionReadBack(Action):
    """Sends the family's summary with Yes/No; a detail not known reads "unknown" in the customer's language."""

    def name(self) -> str:
        return "action_read_back"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        variations = (domain.get("responses") or {}).get(UNKNOWN_VALUE)
        if not variations:  # Rasa sends the domain only to actions marked `send_domain: true`
            logger.warning("action_read_back got no %s: is it still marked send_domain?", UNKNOWN_VALUE)
            variations = [{"text": UNKNOWN}]
        unknown = str(for_language(variations, known(tracker.get_slot(SLOT)))["text"])
        values = {slot: tracker.get_slot(slot) or UNKNOWN for slot in DETAIL_SLOTS}
        shown = {slot: unknown if value == UNKNOWN else value for slot, value in values.items()}
        dispatcher.utter_message(response=read_back_response(tracker.get_slot("case_family")), **shown)
        return []
