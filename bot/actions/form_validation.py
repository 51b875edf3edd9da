"""Validation of ``case_details_form``: the family's checklist, checked answers, P1 updates."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from bot.actions.case_access import case_store
from bot.actions.details import check_detail
from bot.actions.families import (
    DETAIL_SLOTS,
    FAMILY_SLOTS,
    GENERAL,
    SLOT_OF_ENTITY,
    value_before_latest_message,
    without_shadowed_amounts,
)


class ValidateCaseDetailsForm(FormValidationAction):
    """Asks only what the case's family needs and re-asks with help when an answer is unusable."""

    def name(self) -> str:
        return "validate_case_details_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """The checklist of the family set by ``action_start_case``."""
        family = tracker.get_slot("case_family") or GENERAL
        return list(FAMILY_SLOTS.get(family, FAMILY_SLOTS[GENERAL]))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        """Validate, then attach fresh details to the case if it is already open (P1)."""
        events = await super().run(dispatcher, tracker, domain)
        case_id = tracker.get_slot("case_id")
        if case_id:
            fresh = {
                event["name"]: event["value"]
                for event in events
                if event.get("event") == "slot" and event.get("name") in DETAIL_SLOTS and event.get("value") is not None
            }
            if fresh:
                await asyncio.to_thread(_attach, case_id, fresh)
        return events

    def _check(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        if _corrects_another_detail(tracker, slot, value):
            return {slot: None}
        checked = check_detail(slot, value)
        if checked.problem:
            dispatcher.utter_message(response=checked.problem)
        return {slot: checked.value}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("description", value, dispatcher, tracker)

    def validate_account_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("account_ref", value, dispatcher, tracker)

    def validate_started_at(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("started_at", value, dispatcher, tracker)

    def validate_coin(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("coin", value, dispatcher, tracker)

    def validate_network(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("network", value, dispatcher, tracker)

    def validate_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        entities = tracker.latest_message.get("entities") or []
        kept = without_shadowed_amounts(entities)
        if any(e.get("entity") == "amount" and str(e.get("value")) == str(value) for e in entities if e not in kept):
            return {"amount": value_before_latest_message(tracker, "amount")}
        return self._check("amount", value, dispatcher, tracker)

    def validate_tx_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("tx_time", value, dispatcher, tracker)

    def validate_txid(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("txid", value, dispatcher, tracker)

    def validate_counterparty(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("counterparty", value, dispatcher, tracker)

    def validate_error_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("error_text", value, dispatcher, tracker)

    def validate_where(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("where", value, dispatcher, tracker)

    def validate_device(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("device", value, dispatcher, tracker)

    def validate_os(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("os", value, dispatcher, tracker)

    def validate_app_or_browser_version(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("app_or_browser_version", value, dispatcher, tracker)

    def validate_recent_security_change(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("recent_security_change", value, dispatcher, tracker)

    def validate_new_device_or_network(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("new_device_or_network", value, dispatcher, tracker)

    def validate_links_clicked(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("links_clicked", value, dispatcher, tracker)


def _corrects_another_detail(tracker: Tracker, slot: str, value: Any) -> bool:
    """True when the whole message went to the asked slot but really corrects another detail.

    "actually it was 0.7 BTC" while the form asks when it happened: the amount is
    corrected by its entity, and the question is asked again instead of storing the text.
    """
    message = tracker.latest_message
    if slot != tracker.get_slot("requested_slot") or value != message.get("text"):
        return False
    for entity in without_shadowed_amounts(message.get("entities") or []):
        other = SLOT_OF_ENTITY.get(entity.get("entity", ""))
        if other and other != slot and value_before_latest_message(tracker, other) is not None:
            return True
    return False


def _attach(case_id: str, details: dict[str, Any]) -> None:
    """Add only what the case does not already hold, so agents are alerted once per detail."""
    store = case_store()
    known = store.get(case_id).details
    news = {slot: value for slot, value in details.items() if known.get(slot) != value}
    if news:
        store.add_details(case_id, news)
