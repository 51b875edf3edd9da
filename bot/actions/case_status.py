"""``action_case_status``: where the customer's case stands."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store, channel_of
from bot.cases.priorities import label
from bot.cases.store import CANCELLED, CLAIMED, OPEN, Case

CASE_ID = re.compile(r"\bCX-[0-9A-HJKMNP-TV-Z]{6}\b", re.I)
STATUS_RESPONSE = {
    OPEN: "utter_case_status_open",
    CLAIMED: "utter_case_status_claimed",
    CANCELLED: "utter_case_status_cancelled",
}


class ActionCaseStatus(Action):
    """Looks the case up by the id the customer gave, else their latest case on this channel.

    A case id only answers for the conversation that opened the case: anyone else is told it
    does not exist, so a guessed or leaked id reveals neither status, priority nor queue place.
    """

    def name(self) -> str:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        given = _case_id_in(tracker)
        store = case_store()
        if given:
            case = await asyncio.to_thread(store.find, given)
            if case is None or (case.channel, case.sender_id) != (channel_of(tracker), tracker.sender_id):
                dispatcher.utter_message(response="utter_case_not_found", case_id=given)
                return []
        else:
            case = await asyncio.to_thread(store.latest_case, channel_of(tracker), tracker.sender_id)
            if case is None:
                dispatcher.utter_message(response="utter_no_cases")
                return []
        await asyncio.to_thread(_tell_status, dispatcher, case)
        return []


def _case_id_in(tracker: Tracker) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "case_id" and entity.get("value"):
            return str(entity["value"]).upper()
    match = CASE_ID.search(tracker.latest_message.get("text") or "")
    return match.group(0).upper() if match else None


def _tell_status(dispatcher: CollectingDispatcher, case: Case) -> None:
    response = STATUS_RESPONSE.get(case.status, "utter_case_status_resolved")
    values: dict[str, Any] = {"case_id": case.id, "priority": label(case.priority)}
    nobody_on_duty = False
    if case.status == OPEN:
        info = case_store().queue_info(case.id)
        values.update(place=info.place, wait_minutes=info.estimated_wait_minutes)
        nobody_on_duty = info.agents_on_duty == 0
    dispatcher.utter_message(response=response, **values)
    if nobody_on_duty:
        dispatcher.utter_message(response="utter_no_agents_on_duty")
