"""Rasa's Redis lock store, with tickets that live only as long as the process holding them beats.

Rasa's conversation lock is a queue of tickets in Redis, each valid for 60 s. A killed
server's tickets stayed for that long, and the turns it had in flight, run again on another
server, waited them out: the last chats of a crash burst answered 26 s after the restart.
Here a ticket is issued for ``ticket_seconds`` and renewed every ``renew_seconds`` while its
process waits for the lock and while it holds it, up to Rasa's lock lifetime (60 s) of holding:
a dead process's ticket lapses within seconds, a live one's lasts its turn (a server whose
database heartbeat went stale still holds its turn's lock while it can reach Redis), and a
turn stuck past every bound lets go about when Rasa's own ticket would have.

The renewal rewrites the one ticket atomically (a Lua script), from a thread of its own: the
process's default thread pool carries database calls that may hang for seconds, and a
renewal queued behind them would let a live turn's ticket lapse. Rasa updates a lock by
reading and writing it back; when that straddles a renewal, the renewal is lost and the
next one, ``renew_seconds`` later, restores it, well inside the ticket's life. A ticket lives
at least two renewals that each wait Redis's socket timeout, so a Redis away for less than
that costs no lock (with the defaults, 14 s; Rasa's own tickets lived 60 s). 14 s, not
the 20 s of before: a restarted server is healthy in about 7 s now, and the turns of a
killed one, run again by the servers, waited out its tickets past the 10 s a crash's
recovery may take (13.6 s with 20-s tickets in `bench.crash --instances 2`).

Left as Rasa has it: tickets are told apart by number only, and ``issue_ticket``,
``update_lock`` and ``cleanup`` read and write the lock back without atomicity, so servers
racing for one conversation at the same instant can be given the same number. The Telegram
inbox runs one update of a chat at a time across servers, which keeps such races rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger(__name__)

TICKET_SECONDS = 14.0  # 2 x (RENEW_SECONDS + REDIS_TIMEOUT_SECONDS's default 5 s): two slow renewals
RENEW_SECONDS = 2.0

# KEYS[1] the lock; ARGV[1] the ticket number, ARGV[2] its new expiry (epoch seconds). The lock is
# Rasa's TicketLock JSON, whose tickets are JSON strings themselves. 1 when the ticket was there.
_RENEW = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local lock = cjson.decode(raw)
for i, text in ipairs(lock['tickets']) do
  local ticket = cjson.decode(text)
  if ticket['number'] == tonumber(ARGV[1]) then
    ticket['expires'] = tonumber(ARGV[2])
    lock['tickets'][i] = cjson.encode(ticket)
    redis.call('SET', KEYS[1], cjson.encode(lock))
    return 1
  end
end
return 0
"""


class RenewedRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose tickets are renewed by their holder instead of living 60 s.

    Built by Rasa from ``endpoints.yml`` (``type: bot.runtime.lock_store.RenewedRedisLockStore``,
    with the Redis fields of ``type: redis``), or directly with ``RedisLockStore``'s arguments.
    """

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        *,
        ticket_seconds: float = TICKET_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        **redis: Any,
    ) -> None:
        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            ticket_seconds = float(options.pop("ticket_seconds", ticket_seconds))
            renew_seconds = float(options.pop("renew_seconds", renew_seconds))
            redis = {"host": endpoint_config.url or "localhost", **options}
        if not 0 < renew_seconds * 2 < ticket_seconds:
            raise ValueError("renew a ticket at least twice in its life")
        super().__init__(**redis)
        socket_timeout = float(self.red.connection_pool.connection_kwargs.get("socket_timeout") or 0)
        self._ticket_seconds = max(ticket_seconds, 2 * (renew_seconds + socket_timeout))
        self._renew_seconds = renew_seconds
        self._renew = self.red.register_script(_RENEW)
        self._renewer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lock-renewal")

    @contextlib.asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's lock; the ticket lives ``ticket_seconds`` past its last renewal, held ``lock_lifetime`` at most."""
        ticket = self.issue_ticket(conversation_id, self._ticket_seconds)
        acquired = asyncio.Event()
        renewing = asyncio.create_task(
            self._keep_alive(conversation_id, ticket, acquired, lock_lifetime), name=f"lock-{conversation_id}"
        )
        try:
            lock = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
            acquired.set()
            yield lock
        finally:
            renewing.cancel()
            self.cleanup(conversation_id, ticket)

    async def _keep_alive(self, conversation_id: str, ticket: int, acquired: asyncio.Event, longest: float) -> None:
        """Renew the ticket while it waits, and for ``longest`` seconds of holding; a Redis error is retried.

        A ticket found gone (Redis away longer than its life) is not renewed again: its number may be reissued.
        """
        key = self.key_prefix + conversation_id
        loop = asyncio.get_running_loop()
        held_since: float | None = None
        while True:
            await asyncio.sleep(self._renew_seconds)
            if acquired.is_set():
                held_since = held_since if held_since is not None else time.monotonic()
                if time.monotonic() - held_since > longest:
                    logger.warning("the turn of %s held its lock %.0fs; letting its ticket lapse", conversation_id,
                                   longest)  # fmt: skip
                    return
            renew = functools.partial(self._renew, keys=[key], args=[ticket, time.time() + self._ticket_seconds])
            try:
                renewed = await loop.run_in_executor(self._renewer, renew)
            except ResponseError as error:  # e.g. an ACL without scripting: every ticket lives its first life only
                logger.error("Redis refused to renew the lock ticket of %s: %s", conversation_id, error)
                continue
            except RedisError:
                logger.warning("could not renew the lock ticket of %s; trying again", conversation_id)
                continue
            if not renewed:
                logger.error("the lock ticket of %s lapsed before its renewal; the turn goes on", conversation_id)
                return
