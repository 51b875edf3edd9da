"""Text the desk sends to customers, taken from the Rasa domain's ``utter_*`` responses.

The desk never imports Rasa; it reads ``bot/domain.yml`` as YAML at start-up and fails
there, clearly, if a response it needs is missing, rather than at the first message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT

DOMAIN_PATH = PROJECT_ROOT / "bot" / "domain.yml"

RESOLVED = "utter_case_resolved_rate"
NO_AGENT = "utter_no_agents_on_duty"
X_PUBLIC_INVITE = "utter_x_agent_public_invite"
REQUIRED = (RESOLVED, NO_AGENT, X_PUBLIC_INVITE)


class MissingResponse(LookupError):
    """The domain lacks a response the desk sends."""


@dataclass(frozen=True)
class CustomerTexts:
    responses: dict[str, str]

    @classmethod
    def load(cls, domain_path: Path = DOMAIN_PATH) -> CustomerTexts:
        domain: dict[str, Any] = yaml.safe_load(domain_path.read_text()) or {}
        available = domain.get("responses") or {}
        responses: dict[str, str] = {}
        for name in REQUIRED:
            texts = [v["text"] for v in available.get(name) or [] if v.get("text")]
            if not texts:
                raise MissingResponse(f"{domain_path} has no text response {name!r}, which the agent desk sends")
            responses[name] = str(texts[0])
        return cls(responses)

    def render(self, name: str, **values: Any) -> str:
        return self.responses[name].format(**values)
