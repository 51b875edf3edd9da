"""The Rasa server's check of action-server responses: one schema per event, same verdicts as Rasa's."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

from bot.runtime.action_calls import response_validator

SPEC = RemoteAction.action_response_format_spec()
RASAS_OWN = validator_for(SPEC)(SPEC)
FAST = response_validator(SPEC)

RESPONSES: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "case_id", "value": "CX-1A2B3C", "timestamp": None}], "responses": []},
    {"events": [{"event": "active_loop", "name": "case_details_form"}, {"event": "slot", "name": "x", "value": [1]}]},
    {"events": [{"event": "bot", "text": "Hi", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}}]},
    {"events": [{"event": "followup", "name": "action_listen"}, {"event": "reset_slots"}, {"event": "restart"}]},
    {"responses": [{"text": "Case CX-1 is open.", "buttons": []}], "events": [{"event": "action", "name": "utter_x"}]},
    {"events": [{"event": "bot", "text": 5}]},  # Rasa's spec lets these two through; so must the check
    {"events": [{"event": "active_loop", "name": ["a"]}]},
    # refused
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "case_id", "value": 1}]},
    {"events": [{"event": "slot", "name": 7, "value": 1}]},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": "x", "timestamp": "yesterday"}]},
]


def verdict(check: Any, response: dict[str, Any]) -> bool:
    try:
        check(response)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("response", RESPONSES)
def test_each_event_checked_against_its_own_type_gives_rasas_verdict(response: dict[str, Any]) -> None:
    assert verdict(FAST, response) == verdict(RASAS_OWN.validate, response)


def test_the_cases_cover_both_verdicts() -> None:
    verdicts = [verdict(RASAS_OWN.validate, r) for r in RESPONSES]
    assert verdicts.count(True) == 8 and verdicts.count(False) == 5
