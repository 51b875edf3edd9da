"""The database's backlog as Prometheus gauges, made afresh from one ``Backlog`` per scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bot.metrics.backlog import Backlog
from bot.metrics.cases import priority_label


class BacklogCollector(Collector):
    """Gauges of one reading; ``None`` (the database did not answer) yields only ``support_database_up 0``."""

    def __init__(self, backlog: Backlog | None) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("support_database_up", "1 when this scrape could read the shared database.")
        up.add_metric([], 0.0 if self._backlog is None else 1.0)
        yield up
        if self._backlog is None:
            return
        backlog = self._backlog
        yield _family(
            "support_outbox_depth", "Rows not yet delivered, by destination.", "destination",
            {o.name: o.depth for o in backlog.outboxes},
        )  # fmt: skip
        yield _family(
            "support_outbox_oldest_age_seconds", "Age of the oldest row not yet delivered, by destination.",
            "destination", {o.name: o.oldest_age_seconds for o in backlog.outboxes},
        )  # fmt: skip
        yield _family(
            "support_outbox_overdue_seconds",
            "How long the longest-waiting sendable row has waited (retry back-off not counted), by destination.",
            "destination", {o.name: o.overdue_seconds for o in backlog.outboxes},
        )  # fmt: skip
        yield _family(
            "support_inbox_backlog", "Customer messages stored and not yet handled, by channel.", "channel",
            {i.name: i.depth for i in backlog.inboxes},
        )  # fmt: skip
        yield _family(
            "support_inbox_oldest_age_seconds", "Age of the oldest unhandled customer message, by channel.", "channel",
            {i.name: i.oldest_age_seconds for i in backlog.inboxes},
        )  # fmt: skip
        yield _family(
            "support_inbox_stuck_chats", "Chats whose oldest unhandled message is older than CHAT_STUCK_SECONDS.",
            "channel", {i.name: i.stuck_chats for i in backlog.inboxes},
        )  # fmt: skip
        yield _family(
            "support_lease_held", "1 while a live process holds the named lease (a poller runs).", "lease",
            {lease.name: float(lease.held) for lease in backlog.leases},
        )  # fmt: skip
        yield _family(
            "support_lease_seconds_left", "Seconds until the named lease runs out unless renewed.", "lease",
            {lease.name: lease.seconds_left for lease in backlog.leases},
        )  # fmt: skip
        yield _family(
            "support_cases_waiting", "Open cases no agent has claimed, by priority.", "priority",
            {priority_label(q.priority): q.waiting for q in backlog.case_queues},
        )  # fmt: skip
        yield _family(
            "support_cases_oldest_wait_seconds", "How long the oldest unclaimed case has waited, by priority.",
            "priority", {priority_label(q.priority): q.oldest_wait_seconds for q in backlog.case_queues},
        )  # fmt: skip
        sla = GaugeMetricFamily(
            "support_cases_sla",
            "Open and claimed cases by priority and SLA state, as the desk shows them "
            "(overdue: no agent reply yet and past the target).",
            labels=["priority", "state"],
        )
        for count in backlog.sla:
            sla.add_metric([priority_label(count.priority), count.state], float(count.cases))
        yield sla


def _family(name: str, documentation: str, label: str, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], float(value))
    return family
