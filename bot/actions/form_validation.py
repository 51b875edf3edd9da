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
from bot.actions.families import DETAIL_SLOTS, FAMILY_SLOTS, GENERAL


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

    def _check(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        checked = check_detail(slot, value)
        if checked.problem:
            dispatcher.utter_message(response=checked.problem)
        return {slot: checked.value}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("description", value, dispatcher)

    def validate_account_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("account_ref", value, dispatcher)

    def validate_started_at(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("started_at", value, dispatcher)

    def validate_coin(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("coin", value, dispatcher)

    def validate_network(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("network", value, dispatcher)

    def validate_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("amount", value, dispatcher)

    def validate_tx_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("tx_time", value, dispatcher)

    def validate_txid(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("txid", value, dispatcher)

    def validate_counterparty(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("counterparty", value, dispatcher)

    def validate_error_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("error_text", value, dispatcher)

    def validate_where(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("where", value, dispatcher)

    def validate_device(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("device", value, dispatcher)

    def validate_os(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("os", value, dispatcher)

    def validate_app_or_browser_version(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("app_or_browser_version", value, dispatcher)

    def validate_recent_security_change(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("recent_security_change", value, dispatcher)

    def validate_new_device_or_network(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("new_device_or_network", value, dispatcher)

    def validate_links_clicked(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._check("links_clicked", value, dispatcher)


def _attach(case_id: str, details: dict[str, Any]) -> None:
    """Add only what the case does not already hold, so agents are alerted once per detail."""
    store = case_store()
    known = store.get(case_id).details
    news = {slot: value for slot, value in details.items() if known.get(slot) != value}
    if news:
        store.add_details(case_id, news)
