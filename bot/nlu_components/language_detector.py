"""Emit the message's language as a ``language`` entity when its script makes it clear.

The domain maps the entity to the ``language`` slot (``from_entity``), so the conversation
remembers the last clear language, and a message with no clear evidence (a txid, an amount,
"ok", a coin name) emits nothing and changes nothing. It runs in the NLU pipeline because
the Rasa server parses every message anyway: a few microseconds of character checks and no
call to the action server (a custom slot mapping or a metadata hook would cost one a turn).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import SLOT
from bot.language.script import detect

EXTRACTOR = "LanguageDetector"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds ``{"entity": "language", "value": "en" | "ko" | "zh"}`` to messages with clear script evidence."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect(text)
            if language is None:
                continue
            entity = {"entity": SLOT, "value": language, "start": 0, "end": len(text), "extractor": EXTRACTOR}
            message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)
        return messages
