"""One answer per piece of text: reconcile the statistical and the rule-based entity extractors.

The CRF and the regex/lookup extractor both report coins and networks, so "500 usdt" used
to carry USDT twice; and the CRF, which has seen many amounts, tags an 8-10 digit account
id as an amount while the regex knows it is an account id. Slots are filled from these
entities (domain mappings and actions alike), so the parse itself must be right:

- two entities of one type over overlapping text are one entity (the rule-based one
  wins: its values are normalised by the synonym table);
- an amount over the text of an identifier (account or order id, phone, txid, address,
  error code), or equal to one's value, is that identifier, not an amount;
- a coin inside a network's name ("solana network", "bnb smart chain") is part of that
  name: "usd coin on bnb smart chain" is USDC, not BNB.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

RULE_BASED = "RegexEntityExtractor"
IDENTIFIERS = frozenset({"account_id", "order_id", "phone", "txid", "wallet_address", "error_code", "email"})
# An entity of the key's type over the text of one of these types is part of it.
PART_OF = {"amount": IDENTIFIERS, "coin": frozenset({"network"})}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class EntityReconciler(GraphComponent):
    """Drops duplicate and shadowed entities so every piece of text is reported once, as what it is."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityReconciler:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, reconciled(entities), add_to_output=True)
        return messages


def reconciled(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities without duplicates over the same text and without amounts that are identifiers."""
    kept: list[dict[str, Any]] = []
    # Rule-based entities first, so an overlapping statistical one is the one dropped.
    for entity in sorted(entities, key=lambda e: (e.get("extractor") != RULE_BASED, e.get("start", 0))):
        containers = PART_OF.get(entity.get("entity", ""), frozenset())
        if any(_part_of(entity, other) for other in entities if other.get("entity") in containers):
            continue
        if any(other.get("entity") == entity.get("entity") and _overlap(entity, other) for other in kept):
            continue
        kept.append(entity)
    return sorted(kept, key=lambda e: (e.get("start", 0), e.get("end", 0)))


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("start", -1) < b.get("end", -1) and b.get("start", -1) < a.get("end", -1)


def _part_of(entity: dict[str, Any], container: dict[str, Any]) -> bool:
    """Over the container's text; an amount also when it repeats an identifier's value elsewhere."""
    same_value = entity.get("entity") == "amount" and str(entity.get("value")) == str(container.get("value"))
    return _overlap(entity, container) or same_value
