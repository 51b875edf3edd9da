"""Rasa's SQL tracker store configured by one ``DATABASE_URL``, like the case store."""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """``tracker_store: {type: bot.runtime.tracker_store.DatabaseUrlTrackerStore, url: ...}``.

    Rasa hands a custom store the endpoint's ``url`` as ``host``.
    """

    def __init__(
        self,
        domain: Domain | None = None,
        host: str = "",
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        parsed = make_url(host)
        backend = parsed.get_backend_name()
        super().__init__(
            domain=domain,
            dialect="postgresql" if backend == "postgresql" else backend,
            host=parsed.host,
            port=parsed.port,
            db=parsed.database or "rasa.db",
            username=parsed.username,
            password=parsed.password,
            event_broker=event_broker,
            query=dict(parsed.query) or None,
        )
