"""The P1 safety net: never let a likely theft or locked account be routed elsewhere unasked.

A theft report the classifier files under fees or a deposit question costs the customer
their funds; an agent's look at a false alarm, or one extra question, costs far less. So
the summed probability of the P1 intents decides, not only the top intent:

- at ``route_threshold`` or above, the message is routed as the likelier P1 intent
  (a cost-sensitive decision: the top intent is not P1, yet P1 is too likely to pass by);
- at ``ask_threshold`` or above, the prediction becomes ``nlu_fallback`` (as Rasa's
  FallbackClassifier does it, so the ranking below it and `rasa test nlu` still see the
  shadowed intent) with a ``p1_check`` property: the P1 intent a "Yes" means, where a "No"
  goes, and the intent it replaced. The fallback action asks the question with those two
  buttons before the generic issue-type buttons.

A message whose top intent is a confident P1 intent, or a reply to the bot's own question
(affirm, deny, inform), passes unchanged. Both thresholds are chosen on the real-text
slice (README, "Real text").
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

P1_CHECK = "p1_check"  # the question to ask
P1_ROUTE = "p1_route"  # routed as P1 on its probability: what it replaced


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class P1SafetyNet(GraphComponent, IntentClassifier):
    """Routes or asks when the P1 probability is high but no P1 intent is confidently on top."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "p1_intents": ["suspected_theft", "account_locked"],
            "route_threshold": 1.01,  # above any probability: never route without asking
            "ask_threshold": 0.2,
            "exempt_intents": ["affirm", "deny", "inform"],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.p1_intents = frozenset(config["p1_intents"])
        self.route_threshold = float(config["route_threshold"])
        self.ask_threshold = float(config["ask_threshold"])
        self.exempt = frozenset(config["exempt_intents"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> P1SafetyNet:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            decision = self.decide(message.get(INTENT) or {}, message.get(INTENT_RANKING_KEY) or [])
            if decision is None:
                continue
            if decision.pop("route"):
                message.data[INTENT] = {INTENT_NAME_KEY: decision["p1_intent"],
                                        PREDICTED_CONFIDENCE_KEY: decision["p1_mass"]}
                message.set(P1_ROUTE, decision, add_to_output=True)
                continue
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                        PREDICTED_CONFIDENCE_KEY: decision["p1_mass"]}
            ranking = message.get(INTENT_RANKING_KEY)
            if ranking[0].get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME:
                ranking.insert(0, dict(fallback))
            message.data[INTENT] = fallback
            message.set(P1_CHECK, decision, add_to_output=True)
        return messages

    def decide(self, intent: dict[str, Any], ranking: list[dict[str, Any]]) -> dict[str, Any] | None:
        """How to route this prediction: None (as it is), or a P1 route or question (``route`` tells which)."""
        classified = [r for r in ranking if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME]
        if not classified:
            return None
        top = classified[0][INTENT_NAME_KEY]
        fell_back = intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME
        if top in self.exempt or (top in self.p1_intents and not fell_back):
            return None
        p1 = [r for r in classified if r[INTENT_NAME_KEY] in self.p1_intents]
        mass = sum(float(r[PREDICTED_CONFIDENCE_KEY]) for r in p1)
        if mass < min(self.ask_threshold, self.route_threshold):
            return None
        # "No" goes where the classifier would have sent it; an unsure guess gets the issue-type buttons.
        otherwise = top if not fell_back and top not in self.p1_intents else DEFAULT_NLU_FALLBACK_INTENT_NAME
        return {
            "route": mass >= self.route_threshold,
            "p1_intent": p1[0][INTENT_NAME_KEY],
            "p1_mass": round(mass, 4),
            "otherwise": otherwise,
            "replaced_intent": intent.get(INTENT_NAME_KEY),
        }
