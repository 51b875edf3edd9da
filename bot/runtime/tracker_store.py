"""Rasa's SQL tracker store on the engine ``make_engine`` builds, like the case store's.

Rasa's own engine waits on PostgreSQL without any limit (no connect or statement timeout,
no check of a pooled connection before use); this one has the timeouts of every other
part of the product.
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.orm import sessionmaker

from bot.cases.database import make_engine
from bot.settings import Settings


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """``tracker_store: {type: bot.runtime.tracker_store.DatabaseUrlTrackerStore}``: the ``DATABASE_URL`` database.

    Rasa hands a custom store the endpoint's ``url`` as ``host``; without one (``endpoints.yml``
    names none) the store uses ``DATABASE_URL``, like every other store of the product.
    """

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        settings = Settings.from_env()
        url = host or settings.database_url
        self.engine = make_engine(url, self.Base.metadata, timeouts=settings.database_timeouts)
        self.sessionmaker = sessionmaker(bind=self.engine)
        # SQLTrackerStore.__init__ would build a second, unbounded engine: start one level up.
        super(SQLTrackerStore, self).__init__(domain, event_broker, **kwargs)
