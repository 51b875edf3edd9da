"""``/lang [language]``: the customer picks the bot's language (Telegram, REST and X direct messages).

Without a known language (``/lang``, ``/lang fr``) the bot says which language it uses and
offers the three as buttons, whose payloads are ``/lang en|ko|zh`` commands again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sanic import Sanic

from bot.language import CHINESE, ENGLISH, KOREAN
from connectors.rasa_bridge import choose_language, conversation_language, response

COMMAND = "lang"
ANSWER = "utter_language_set"
_TYPED = re.compile(r"^\s*/lang(?:@[A-Za-z0-9_]+)?(?:\s+(?P<choice>.*?))?\s*$", re.I | re.S)
_CHOICES = {
    ENGLISH: ("en", "eng", "english", "영어", "英语", "英文"),
    KOREAN: ("ko", "kr", "kor", "korean", "한국어", "한국말", "韩语", "韩文"),
    CHINESE: ("zh", "cn", "chinese", "zh-cn", "zh-hans", "中文", "汉语", "简体中文", "普通话", "중국어"),
}
_LANGUAGE_OF = {word: language for language, words in _CHOICES.items() for word in words}


@dataclass(frozen=True)
class LanguageCommand:
    """``language``: the one chosen; None when the command named none (then the choice is shown)."""

    language: str | None


def language_command(argument: str) -> LanguageCommand:
    """The command for ``/lang <argument>`` (``en``, ``korean``, ``中文``, ...)."""
    return LanguageCommand(_LANGUAGE_OF.get(argument.strip().lower()))


def typed_language_command(text: str) -> LanguageCommand | None:
    """The command if ``text`` is a typed ``/lang ...`` (REST and X, where the channel reads no other commands)."""
    match = _TYPED.match(text)
    return language_command(match["choice"] or "") if match else None


async def answer(app: Sanic, channel: str, sender_id: str, command: LanguageCommand) -> tuple[str, dict[str, Any]]:
    """Apply the command; the language now in use and the reply in it (text and the three as buttons)."""
    if command.language is not None:
        await choose_language(app, channel, sender_id, command.language)
        language = command.language
    else:
        language = await conversation_language(app, sender_id)
    reply = response(app, ANSWER, language)
    return language, {"text": reply["text"], "buttons": reply.get("buttons") or []}
