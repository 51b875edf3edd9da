"""A domain response's variation for a language, chosen as Rasa chooses it by the ``language`` slot.

Code outside Rasa's turn (a channel's notice, the desk's message on an agent's behalf) reads
the domain's responses itself; it must pick the variation Rasa would: the one conditioned
on ``language`` equal to the conversation's language, else the unconditioned default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.language import SLOT


class UnknownVariation(LookupError):
    """The response has neither a variation for the language nor an unconditioned one."""


def language_of(variation: Mapping[str, Any]) -> str | None:
    """The language a variation is conditioned on; None for the unconditioned default.

    Raises ValueError for any other condition: code outside Rasa cannot evaluate it.
    """
    conditions = variation.get("condition") or []
    if not conditions:
        return None
    if len(conditions) == 1 and conditions[0].get("type") == "slot" and conditions[0].get("name") == SLOT:
        return str(conditions[0]["value"])
    raise ValueError(f"a variation conditioned on something else than the language: {conditions}")


def for_language(variations: Sequence[Mapping[str, Any]], language: str) -> Mapping[str, Any]:
    """The variation for ``language``, else the unconditioned default."""
    default: Mapping[str, Any] | None = None
    for variation in variations:
        conditioned = language_of(variation)
        if conditioned == language:
            return variation
        if conditioned is None and default is None:
            default = variation
    if default is None:
        raise UnknownVariation(f"no variation for {language!r} and no unconditioned one")
    return default
