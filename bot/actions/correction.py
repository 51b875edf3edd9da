"""``action_apply_correction``: change one detail after the customer said the read-back is wrong."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.details import MAX_TEXT, check_detail
from bot.actions.families import (
    FAMILY_SLOTS,
    GENERAL,
    SLOT_OF_ENTITY,
    value_before_latest_message,
    without_shadowed_amounts,
)

# "amount 0.3", "device: iPhone 13", "the network was TRC20": label words per slot.
_LABELS: tuple[tuple[str, str], ...] = (
    ("description", r"description|problem|issue"),
    ("account_ref", r"account id|account|uid|e-?mail"),
    ("txid", r"txid|tx id|tx hash|transaction id|transaction hash|hash|tx"),
    ("tx_time", r"when|time|date"),
    ("started_at", r"when|since|started|start|time|date"),
    ("coin", r"coin|currency|token|asset"),
    ("network", r"network|chain|blockchain"),
    ("amount", r"amount|sum|quantity"),
    ("counterparty", r"address|destination|source|exchange|wallet|recipient"),
    ("error_text", r"error message|error code|error|message"),
    ("where", r"page|screen|url|link|where"),
    ("app_or_browser_version", r"app version|version|browser"),
    ("device", r"device|phone|laptop|computer"),
    ("os", r"operating system|os|system"),
    ("recent_security_change", r"password change|2fa change|security change|recent change|change"),
    ("new_device_or_network", r"new device|vpn|location|new network"),
    ("links_clicked", r"links clicked|links|clicked"),
)
_SEPARATOR = r"\s*(?:is|was|were|should be|=|:|-)?\s*"


class ActionApplyCorrection(Action):
    """Takes the corrected detail from entities or a "label: value" message; else notes it for the agent."""

    def name(self) -> str:
        return "action_apply_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        family_slots = FAMILY_SLOTS.get(tracker.get_slot("case_family") or GENERAL, FAMILY_SLOTS[GENERAL])
        text = (tracker.latest_message.get("text") or "").strip()
        candidates = _from_entities(tracker, family_slots) or _from_label(text, family_slots)
        events: list[dict[str, Any]] = []
        for slot, raw in candidates.items():
            checked = check_detail(slot, raw)
            if checked.value is None:
                if checked.problem:
                    dispatcher.utter_message(response=checked.problem)
                events.append(SlotSet(slot, value_before_latest_message(tracker, slot)))
            else:
                events.append(SlotSet(slot, checked.value))
        if not candidates:
            description = value_before_latest_message(tracker, "description")
            noted = f"{description} (correction: {text})" if description else text
            dispatcher.utter_message(response="utter_correction_unclear")
            events.append(SlotSet("description", noted[:MAX_TEXT]))
        return events


def _from_entities(tracker: Tracker, family_slots: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for entity in without_shadowed_amounts(tracker.latest_message.get("entities") or []):
        slot = SLOT_OF_ENTITY.get(entity.get("entity", ""))
        if slot in family_slots:
            found[slot] = entity.get("value")
    return found


def _from_label(text: str, family_slots: tuple[str, ...]) -> dict[str, Any]:
    for slot, labels in _LABELS:
        if slot not in family_slots:
            continue
        match = re.match(rf"^(?:no,?\s*)?(?:the\s+|my\s+)?(?:{labels})\b{_SEPARATOR}(?P<value>.+)$", text, re.I)
        if match and match.group("value").strip():
            return {slot: match.group("value").strip()}
    return {}
