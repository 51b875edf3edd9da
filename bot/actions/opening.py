"""Opening a case from the conversation, and the queue facts every case reply carries."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import language
from bot.actions.case_access import case_store, channel_of, escalations, transcript_of
from bot.actions.families import DETAIL_SLOTS
from bot.cases.customer_names import CUSTOMER_NAME, latest_name
from bot.cases.escalations import NO_AGENT_FLAG
from bot.cases.helpful_articles import ARTICLES_TRIED
from bot.cases.priorities import P3
from bot.cases.store import Case

logger = logging.getLogger(__name__)

SUMMARY_LENGTH = 200


def priority_of(tracker: Tracker, default: int = P3) -> int:
    """The priority ``action_start_case`` chose (slot ``case_priority``, like ``P2``)."""
    label = tracker.get_slot("case_priority")
    if isinstance(label, str) and label[1:].isdigit():
        return int(label[1:])
    return default


def collected_details(tracker: Tracker) -> dict[str, Any]:
    """The details collected so far (``unknown`` included: the agent knows it was asked), and the articles tried.

    With them the name the customer's channel gave, to show them by (never who they are).
    """
    details = {slot: tracker.get_slot(slot) for slot in DETAIL_SLOTS if tracker.get_slot(slot) is not None}
    name = latest_name(tracker.events)
    if name:
        details[CUSTOMER_NAME] = name
    tried = tracker.get_slot("help_articles")
    if tried:
        details[ARTICLES_TRIED] = list(tried)
    return details


def turn_message_id(tracker: Tracker) -> str | None:
    """The channel's id of the customer message this turn answers (``tg-<update id>``, an X event's).

    Rasa keeps it on the user event only (``latest_message`` drops it); the same message run
    again has the same id.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            message_id = event.get("message_id")
            return str(message_id) if message_id else None
    return None


def open_case(tracker: Tracker, intent: str, priority: int, **known: Any) -> Case:
    """Create the case with everything the conversation holds so far (blocking: run in a thread).

    ``known`` adds details the slots do not hold, such as the question a request for a
    person follows.
    """
    details = {**{k: v for k, v in known.items() if v is not None}, **collected_details(tracker)}
    description = str(details.get("description") or intent.replace("_", " "))
    case = case_store().open_case(
        intent=intent,
        priority=priority,
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
        summary=description[:SUMMARY_LENGTH],
        details=details,
        transcript=transcript_of(tracker),
        language=language.known(tracker.get_slot(language.SLOT)),
        opened_by_message=turn_message_id(tracker),
    )
    logger.info("opened P%d case %s (%s) on %s", priority, case.id, intent, case.channel)
    return case


def tell_queue_place(dispatcher: CollectingDispatcher, tracker: Tracker, case: Case, response: str) -> None:
    """Send ``response`` with the case id, place in the queue and estimated wait.

    "No agent is on duty" is said once per case: by the desk (an outbox event) or here. It is
    said again when the turn that opened the case runs again and the earlier try had said it
    here: that try's words may never have been sent (and if they were, the outbox sends them once).
    """
    info = case_store().queue_info(case.id)
    dispatcher.utter_message(
        response=response, case_id=case.id, place=info.place, wait_minutes=info.estimated_wait_minutes
    )
    if info.agents_on_duty == 0:
        flags = escalations()
        opened_this_turn = case.opened_by_message is not None and case.opened_by_message == turn_message_id(tracker)
        if flags.once(case.id, NO_AGENT_FLAG) or (opened_this_turn and not flags.enqueued(case.id, NO_AGENT_FLAG)):
            dispatcher.utter_message(response="utter_no_agents_on_duty")
