"""Who may read ``/metrics``, and when queued work counts as stuck: read once from the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.0/8,::1/128"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


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
        env = os.environ if env is None else env
        networks = []
        for item in (env.get("METRICS_ALLOWED_NETWORKS", "").strip() or LOOPBACK).split(","):
            if not item.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"METRICS_ALLOWED_NETWORKS: {item.strip()!r} is not an address or network") from None
        return cls(
            allowed_networks=tuple(networks),
            outbox_stuck_seconds=_seconds(env, "OUTBOX_STUCK_SECONDS", cls.outbox_stuck_seconds),
            chat_stuck_seconds=_seconds(env, "CHAT_STUCK_SECONDS", cls.chat_stuck_seconds),
        )
