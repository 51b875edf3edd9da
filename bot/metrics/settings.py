"""Who may read ``/metrics``, and when queued work counts as stuck: read once from the environment."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from bot.environment import reading

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.0/8,::1/128"


@dataclass(frozen=True)
class MetricsSettings:
    """``METRICS_ALLOWED_NETWORKS``, ``OUTBOX_STUCK_SECONDS``, ``CHAT_STUCK_SECONDS`` (see ``.env.example``).

    ``/metrics`` answers only peers in ``allowed_networks`` (loopback by default), since
    Rasa's port is public for the webhooks. An outbox row that could have been sent for
    ``outbox_stuck_seconds`` makes the process unready; a chat whose oldest unhandled
    message is older than ``chat_stuck_seconds`` counts as stuck.
    """

    allowed_networks: tuple[IpNetwork, ...]
    outbox_stuck_seconds: float = 300.0
    chat_stuck_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MetricsSettings:
        with reading(env) as read:
            networks = []
            for item in read.items("METRICS_ALLOWED_NETWORKS", LOOPBACK):
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    read.problem("METRICS_ALLOWED_NETWORKS", f"{item!r} is not an address or network")
            return cls(
                allowed_networks=tuple(networks),
                outbox_stuck_seconds=read.number("OUTBOX_STUCK_SECONDS", cls.outbox_stuck_seconds, positive=True),
                chat_stuck_seconds=read.number("CHAT_STUCK_SECONDS", cls.chat_stuck_seconds, positive=True),
            )
