"""The customer's language: English, Korean or Simplified Chinese.

Rasa picks a response's variation by the ``language`` slot (a condition on each Korean and
Chinese variation, English the unconditioned default); code that sends domain texts itself
(the channels' notices, the desk) picks the same way through ``variations``.
"""

from __future__ import annotations

ENGLISH, KOREAN, CHINESE = "en", "ko", "zh"
LANGUAGES = (ENGLISH, KOREAN, CHINESE)
DEFAULT_LANGUAGE = ENGLISH
SLOT = "language"  # the slot, and the entity the NLU's script detector emits
NAMES = {ENGLISH: "English", KOREAN: "Korean", CHINESE: "Chinese"}


def known(language: object) -> str:
    """``language`` if it is one of ours, else the default (an old tracker, a hand-edited row)."""
    return language if isinstance(language, str) and language in LANGUAGES else DEFAULT_LANGUAGE
