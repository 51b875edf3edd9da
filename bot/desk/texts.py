"""Text the desk sends to customers, taken from the Rasa domain's ``utter_*`` responses.

The desk never imports Rasa; it reads ``bot/domain.yml`` as YAML at start-up and fails
there, clearly, if a response it needs is missing, rather than at the first message. Each
response is kept in every language it has, and rendered in the case's language with the
variation Rasa would pick for it (``bot/language/variations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.cases.store import RATING_CHOICES
from bot.language import DEFAULT_LANGUAGE, LANGUAGES
from bot.language.variations import UnknownVariation, for_language
from bot.settings import PROJECT_ROOT

DOMAIN_PATH = PROJECT_ROOT / "bot" / "domain.yml"

CLAIMED = "utter_case_claimed"
RESOLVED = "utter_case_resolved_rate"
NO_AGENT = "utter_no_agents_on_duty"
X_PUBLIC_INVITE = "utter_x_agent_public_invite"
REQUIRED = (RESOLVED, NO_AGENT, X_PUBLIC_INVITE, CLAIMED)
RATING_BUTTONS = tuple({"title": choice, "payload": choice} for choice in RATING_CHOICES)  # sent with RESOLVED


class MissingResponse(LookupError):
    """The domain lacks a response the desk sends."""


@dataclass(frozen=True)
class CustomerTexts:
    responses: dict[str, dict[str, str]]  # name -> language -> text

    @classmethod
    def load(cls, domain_path: Path = DOMAIN_PATH) -> CustomerTexts:
        domain: dict[str, Any] = yaml.safe_load(domain_path.read_text()) or {}
        available = domain.get("responses") or {}
        responses: dict[str, dict[str, str]] = {}
        for name in REQUIRED:
            variations = [v for v in available.get(name) or [] if v.get("text")]
            try:
                responses[name] = {language: str(for_language(variations, language)["text"]) for language in LANGUAGES}
            except UnknownVariation:
                missing = f"{domain_path} has no text response {name!r}, which the agent desk sends"
                raise MissingResponse(missing) from None
        return cls(responses)

    def render(self, name: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
        """Response ``name`` in ``language`` (English for a language the domain lacks), ``{slots}`` filled."""
        texts = self.responses[name]
        return texts.get(language, texts[DEFAULT_LANGUAGE]).format(**values)
