"""Rasa's whitespace tokenizer, keeping Korean and Chinese words, and optionally cutting Chinese into words.

Two things the shipped `WhitespaceTokenizer` does to Korean and Chinese (issue 14):
- It drops every token that is all Hangul or all Han as an emoji: Rasa's emoji pattern has
  the range U+24C2-U+1F251, which holds both scripts. "USDT TRC20 출금이 안 돼요" keeps
  only USDT and TRC20; a message left with no token becomes one token of the whole text.
  Here a token with a letter or digit in it is never an emoji.
- Chinese is written without spaces, so a Chinese sentence is one token. With
  ``segment_han`` each run of Han characters is cut into jieba's words ("USDT提现没到账" ->
  USDT, 提现, 没, 到账). Rasa's own `JiebaTokenizer` runs only with `language: zh`, and
  would cut English and Korean too.
Latin, Hangul, digits and the rest keep the whitespace tokenizer's tokens.
Measured against the shipped pipeline: README "Chinese and Korean tokens".
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.language.script import is_han


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class CjkTokenizer(WhitespaceTokenizer):
    """Whitespace tokens without dropping Hangul or Han words; with ``segment_han``, Han runs cut by jieba."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "segment_han": False}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CjkTokenizer:
        if config.get("segment_han"):
            import jieba

            jieba.setLogLevel("WARNING")
            jieba.initialize()  # the dictionary loads now (~1 s), not in the first Chinese parse
        return cls(config)

    def remove_emoji(self, text: str) -> str:
        return text if any(char.isalnum() for char in text) else super().remove_emoji(text)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        if not self._config.get("segment_han"):
            return tokens
        return [piece for token in tokens for piece in segment(token)]


def segment(token: Token) -> list[Token]:
    """``token`` cut where Han characters begin or end, its Han runs into jieba's words; offsets kept."""
    if not any(is_han(char) for char in token.text):
        return [token]
    import jieba

    pieces = []
    offset = 0
    for han, run in groupby(token.text, key=is_han):
        text = "".join(run)
        start = token.start + offset
        if han:
            pieces += [Token(word, start + begin, start + end) for word, begin, end in jieba.tokenize(text)]
        else:
            pieces.append(Token(text, start, start + len(text)))
        offset += len(text)
    return pieces
