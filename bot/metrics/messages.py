"""Customer messages in and out, per channel (``rest``, ``telegram``, ``x``)."""

from __future__ import annotations

from prometheus_client import Counter

RECEIVED = Counter(
    "support_messages_received",
    "Customer messages received, by channel (each counted once, when it passes the gate).",
    ["channel"],
)
SENT = Counter(
    "support_messages_sent",
    "Messages written to customers, by channel and by who wrote them (bot or agent).",
    ["channel", "sender"],
)


def received(channel: str) -> None:
    RECEIVED.labels(channel=channel).inc()


def sent(channel: str, sender: str, count: int = 1) -> None:
    if count > 0:
        SENT.labels(channel=channel, sender=sender).inc(count)
