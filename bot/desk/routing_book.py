"""Which teams and routes are in force: the admin's saved edit when there is one, else the teams file.

Read from the database at each use, so every desk process follows an edit at once; the
file stays the default and is never written (it may be read-only, and each process has
its own copy).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from bot.cases.priorities import PRIORITY_BY_INTENT
from bot.cases.routing import Routing
from bot.cases.team_routing import SavedRouting, TeamRoutingStore
from bot.desk.teams import TeamsFileError, parse_routing, routing_document

KNOWN_INTENTS = frozenset(PRIORITY_BY_INTENT)
logger = logging.getLogger(__name__)


class RoutingBook:
    def __init__(self, store: TeamRoutingStore, default: Routing) -> None:
        self._store = store
        self.default = default

    def current(self) -> Routing:
        return self.in_force()[0]

    def in_force(self) -> tuple[Routing, SavedRouting | None]:
        """The routing and, when an admin saved it, who and when; a saved one that no longer reads: the file's."""
        saved = self._store.load()
        if saved is None:
            return self.default, None
        try:
            return parse_routing(saved.document, "saved routing"), saved
        except TeamsFileError:
            logger.exception("the routing saved in the database does not read: the teams file is in force")
            return self.default, None

    def checked(self, document: Any) -> Routing:
        """The routing an admin sent, or ``TeamsFileError`` saying what is wrong (unknown intent, team, priority)."""
        return parse_routing(document, "routing", KNOWN_INTENTS)

    def uses(self, teams: Collection[str]) -> list[str]:
        """Why these teams cannot be dropped now (empty: they can)."""
        return self._store.uses(teams)

    def save(self, routing: Routing, updated_by: str) -> SavedRouting:
        return self._store.save(routing_document(routing), updated_by)
