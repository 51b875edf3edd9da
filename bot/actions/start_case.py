"""``action_start_case``: name the problem, rank it, and prepare the details form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.details import check_detail
from bot.actions.families import (
    DETAIL_SLOTS,
    FAMILY_OF_INTENT,
    GENERAL,
    HELP_SLOTS,
    INTRO_RESPONSE,
    SLOT_OF_ENTITY,
    credentials_exposed,
    latest_problem_turn,
    theft_signs,
    without_shadowed_amounts,
)
from bot.cases.priorities import P1, label, priority_for
from bot.settings import Settings


class ActionStartCase(Action):
    """Sets ``case_intent``, ``case_priority``, ``case_family`` and ``case_urgent`` for a new case.

    Details of an earlier case, and the help-center articles shown for it, are cleared; what
    the customer already said in the problem message (its words, coin, amount, ...) is kept so
    the form does not ask it again. A help-center search is a case of its own intent (P3,
    general details), described by the words searched for.
    """

    def name(self) -> str:
        return "action_start_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        turn = latest_problem_turn(tracker)
        intent = turn.intent if turn else "request_human"
        text = turn.text if turn else ""
        priority = priority_for(intent, credentials_exposed=credentials_exposed(text), theft_signs=theft_signs(text))
        urgent = priority == P1
        events = [SlotSet(slot, None) for slot in (*DETAIL_SLOTS, *HELP_SLOTS)]
        if turn is not None:
            events.append(SlotSet("description", turn.description))
            for entity in without_shadowed_amounts(turn.entities):
                slot = SLOT_OF_ENTITY.get(entity.get("entity", ""))
                value = check_detail(slot, entity.get("value")).value if slot else None
                if slot and value:
                    events.append(SlotSet(slot, value))
        events += [
            SlotSet("case_intent", intent),
            SlotSet("case_priority", label(priority)),
            SlotSet("case_family", FAMILY_OF_INTENT.get(intent, GENERAL)),
            SlotSet("case_id", None),
            SlotSet("case_urgent", urgent),
        ]
        intro = INTRO_RESPONSE.get(intent)
        if intro and not urgent:
            settings = Settings.from_env()
            dispatcher.utter_message(
                response=intro,
                official_domains=", ".join(settings.official_domains),
                support_handles=", ".join(settings.support_handles),
            )
        return events
