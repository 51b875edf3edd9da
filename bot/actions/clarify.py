"""``action_clarify_issue``: what the bot asks when it is not sure what the customer means.

If the NLU's P1 safety net flagged the message (theft or a locked account is likely, but
not the confident top intent), the customer first gets one Yes/No question whose buttons
route straight to the P1 intent or to where the message would otherwise have gone.
Otherwise they pick an issue type from the generic buttons.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

P1_CHECK = "p1_check"  # the parse-data property bot.nlu_components.p1_safety_net sets


class ActionClarifyIssue(Action):
    """Asks the P1 question when the safety net flagged the message, else shows the issue types."""

    def name(self) -> str:
        return "action_clarify_issue"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        check = tracker.latest_message.get(P1_CHECK)
        if check:
            dispatcher.utter_message(
                response="utter_ask_p1_check", p1_intent=check["p1_intent"], otherwise=check["otherwise"]
            )
        else:
            dispatcher.utter_message(response="utter_ask_issue_type")
        return []
