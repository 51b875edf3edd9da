"""How long the NLU pipeline takes to read a message, and which intents it finds."""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import Counter, Histogram

OTHER_INTENT = "other"
PARSE_SECONDS = Histogram(
    "support_nlu_parse_seconds",
    "Time the NLU pipeline took to parse one message.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
INTENTS = Counter("support_nlu_intents", "Messages parsed, by the intent the NLU found.", ["intent"])


def parsed(seconds: float, intent: str | None, known_intents: Collection[str]) -> None:
    """Record one parse; an intent the domain does not know (``/anything`` typed on REST) counts as ``other``."""
    PARSE_SECONDS.observe(seconds)
    INTENTS.labels(intent=intent if intent in known_intents else OTHER_INTENT).inc()
