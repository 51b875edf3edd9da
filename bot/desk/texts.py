"""Text the desk sends to customers, taken from the Rasa domain's ``utter_*`` responses.

The desk never imports Rasa; it reads ``bot/domain.yml`` as YAML. The defaults below are
used only for a response the domain does not (yet) define, so the desk still speaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT

DOMAIN_PATH = PROJECT_ROOT / "bot" / "domain.yml"

RESOLVED = "utter_case_resolved_rate"
NO_AGENT = "utter_no_agents_on_duty"
X_PUBLIC_INVITE = "utter_x_agent_public_invite"

DEFAULTS = {
    RESOLVED: (
        "Your case {case_id} has been resolved. How happy are you with the help you got? "
        "Reply with a number from 1 (poor) to 5 (excellent)."
    ),
    X_PUBLIC_INVITE: (
        "An agent has answered your support request. To keep your details private, please continue in a "
        "direct message: {dm_link}"
    ),
    NO_AGENT: (
        "No agent is on duty right now. Your case stays in the queue and an agent will answer here "
        "as soon as one is available."
    ),
}


@dataclass(frozen=True)
class CustomerTexts:
    responses: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))

    @classmethod
    def load(cls, domain_path: Path = DOMAIN_PATH) -> CustomerTexts:
        responses = dict(DEFAULTS)
        if domain_path.exists():
            domain: dict[str, Any] = yaml.safe_load(domain_path.read_text()) or {}
            for name in DEFAULTS:
                variants = (domain.get("responses") or {}).get(name) or []
                if variants and variants[0].get("text"):
                    responses[name] = str(variants[0]["text"])
        return cls(responses)

    def render(self, name: str, **values: Any) -> str:
        return self.responses[name].format(**values)
