"""Desk sessions end: on sign-out (open pages included) and at their lifetime however busy."""

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.cases.agents import desk_sessions
from bot.cases.store import utcnow
from tests.auxil.desk_app import context_of, running_desk, signed_in


def _sign_in_time(server, agent: str, at) -> None:
    with context_of(server).engine.begin() as conn:
        conn.execute(update(desk_sessions).where(desk_sessions.c.agent == agent).values(created_at=at))


async def test_a_busy_session_still_ends_at_its_lifetime(database_url):
    async with running_desk(database_url, DESK_SESSION_MAX_HOURS="12") as server, signed_in(server, "alice") as alice:
        _sign_in_time(server, "alice", utcnow() - timedelta(hours=11, minutes=59))
        assert (await alice.get("/api/me")).status == 200  # used a second ago: not idle, and not too old yet
        _sign_in_time(server, "alice", utcnow() - timedelta(hours=12, minutes=1))
        assert (await alice.get("/api/me")).status == 401
        with context_of(server).engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(desk_sessions)).scalar_one() == 0
