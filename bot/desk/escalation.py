"""Watch the queue: re-alert unclaimed P1 cases to everyone, tell customers when nobody is on duty.

Each step happens once per case (a flag and its outbox row in one transaction); the
dispatcher then delivers it like any other alert.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from bot.cases.agents import DutyRoster
from bot.cases.escalations import NO_AGENT_FLAG, P1_REALERT_FLAG, Escalations
from bot.cases.priorities import P1
from bot.cases.queue import active_cases
from bot.cases.store import OPEN, utcnow

logger = logging.getLogger(__name__)


class EscalationWatcher:
    def __init__(
        self,
        engine: Engine,
        roster: DutyRoster,
        escalations: Escalations,
        *,
        p1_realert_seconds: float,
        no_agent_notice_seconds: float,
        check_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._roster = roster
        self._escalations = escalations
        self._realert = p1_realert_seconds
        self._notice = no_agent_notice_seconds
        self._check = check_seconds

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.check_once)
            except Exception:
                logger.exception("escalation check failed")
            await asyncio.sleep(self._check)

    def check_once(self) -> None:
        now = utcnow()
        waiting = active_cases(self._engine, (OPEN,))
        if not waiting:
            return
        nobody = not self._roster.current()
        for case in waiting:
            waited = (now - case.created_at).total_seconds()
            if case.priority == P1 and waited >= self._realert:
                self._escalations.once(case.id, P1_REALERT_FLAG, P1_REALERT_FLAG, {"waited_seconds": int(waited)})
            if nobody and waited >= self._notice:
                self._escalations.once(case.id, NO_AGENT_FLAG, NO_AGENT_FLAG, {})
