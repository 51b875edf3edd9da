"""This process's metrics in Prometheus' text format, for the peers allowed to read them.

With several worker processes (``workers.use_worker_files``) a scrape of any worker adds
up every worker's files; otherwise the client's in-memory registry is read.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.metrics.settings import IpNetwork
from bot.metrics.workers import MULTIPROC_VARIABLE

FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # every metric name here is a classic one: any Prometheus reads it


def may_read(peer: str | None, headers: Mapping[str, str], networks: Iterable[IpNetwork]) -> bool:
    """True for a direct request from an allowed network.

    A request that came through a reverse proxy (forwarding headers) is refused whatever
    its peer: the proxy's own address, often loopback, says nothing about the client.
    """
    if peer is None or any(name in headers for name in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def render(*extra: Collector) -> bytes:
    """Everything this process counts (every worker's, in multiprocess mode), then ``extra`` collectors.

    Without the ``*_created`` series the client adds by default: Prometheus does not need them.
    """
    disable_created_metrics()
    return generate_latest(_Together([_local(), *extra]))


def _local() -> Collector:
    directory = os.environ.get(MULTIPROC_VARIABLE)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, directory)
    return registry


class _Together(Collector):
    """Several collectors read as one registry, for one scrape."""

    def __init__(self, parts: list[Collector]) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()
