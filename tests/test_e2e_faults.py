"""End to end: PostgreSQL and Redis briefly unreachable under the running bot (one stack for every fault).

The stack's ``DATABASE_URL`` and ``REDIS_URL`` go through TCP proxies the test switches; the
machine's servers are never touched. During each fault a customer message gets a clear 503
within the configured timeouts (or, had the store come back in time, its answer); after it,
the same message is answered in context, and nothing said before is lost or doubled.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import text

from bot.cases.database import REPLY_MARGIN_SECONDS, make_engine
from bot.cases.store import CaseStore
from tests.auxil.databases import REDIS_HOST, REDIS_PORT
from tests.auxil.rasa_stack import RunningStack, rasa_stack
from tests.auxil.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")
SKIP = "I don't know"
TIMEOUT_SECONDS = 2
ENV = {
    "DATABASE_CONNECT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "DATABASE_STATEMENT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "REDIS_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
}
# Worst case for a message while PostgreSQL hangs: a pooled connection's check waits for its
# reply, then one new connection is tried; plus the turn's own work.
FAULTED_TURN_SECONDS = TIMEOUT_SECONDS + REPLY_MARGIN_SECONDS + TIMEOUT_SECONDS + 6
# A blip is a hang shorter than the timeouts: the message waits, then is answered.
FAULTS = [(store, mode) for store in ("redis", "postgresql") for mode in ("blip", "blackhole", "refuse")]


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _post(stack: RunningStack, name: str, text: str) -> tuple[requests.Response, float]:
    conversation_id, secret = stack.conversations[name]
    started = time.monotonic()
    response = requests.post(
        f"{stack.rasa_urls[0]}/webhooks/rest/webhook",
        json={"message": text, "sender": conversation_id},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
    )
    return response, time.monotonic() - started


def _post_through_blip(stack: RunningStack, name: str, text: str, proxy: TcpProxy) -> tuple[requests.Response, float]:
    """Send while ``proxy`` hangs, and let it through as soon as the message is waiting on it."""
    proxy.blackhole()
    with ThreadPoolExecutor(1) as sending:
        sent = sending.submit(_post, stack, name, text)
        deadline = time.monotonic() + 30
        while not proxy.held and not sent.done():
            assert time.monotonic() < deadline, "the message never reached the store"
            time.sleep(0.01)
        proxy.forward()
        return sent.result(timeout=60)


def _questions_until_read_back(stack: RunningStack, name: str, first: list[dict]) -> list[str]:
    """The bot's questions while the customer skips each, up to the read-back."""
    asked = [_texts(first)]
    while "correct?" not in asked[-1].lower():
        assert len(asked) < 15, asked
        asked.append(_texts(stack.say(name, SKIP)))
    return asked


def test_the_bot_holds_through_database_and_redis_faults(tmp_path, pg_url, redis_url, proxy_to):
    database, redis = proxy_to("127.0.0.1", 5432), proxy_to(REDIS_HOST, REDIS_PORT)
    proxies = {"postgresql": database, "redis": redis}
    direct = CaseStore(make_engine(pg_url))
    try:
        with rasa_stack(tmp_path, database.route(pg_url), redis_url=redis.route(redis_url), extra_env=ENV) as stack:
            theft = _texts(stack.say("theft", "someone logged into my account and withdrew all my USDT, it wasn't me"))
            theft_case = CASE_ID.search(theft).group()
            theft_lines = direct.transcript(theft_case)
            withdrawal = "my BTC withdrawal has been pending for 5 hours"
            expected = _questions_until_read_back(stack, "baseline", stack.say("baseline", withdrawal))
            assert len(expected) - 1 >= len(FAULTS), "the form asks enough questions to fault one answer each"

            asked = [_texts(stack.say("faulted", withdrawal))]
            outcomes = []
            for store, mode in FAULTS:
                if mode == "blip":
                    during, seconds = _post_through_blip(stack, "faulted", SKIP, proxies[store])
                    assert during.status_code == 200, (store, during.text[:300])
                else:
                    getattr(proxies[store], mode)()
                    during, seconds = _post(stack, "faulted", SKIP)
                outcomes.append((store, mode, during.status_code, round(seconds, 1)))
                assert seconds < FAULTED_TURN_SECONDS, outcomes
                assert during.status_code in (200, 503), (outcomes, during.text[:300])
                if store == "postgresql" and mode == "refuse":
                    conversation_id, secret = stack.conversations["faulted"]
                    mailbox = requests.get(
                        f"{stack.rasa_urls[0]}/webhooks/rest/messages",
                        params={"sender": conversation_id},
                        headers={"Authorization": f"Bearer {secret}"},
                        timeout=30,
                    )
                    assert mailbox.status_code == 503, mailbox.text[:300]
                proxies[store].forward()
                if during.status_code == 503:
                    assert during.headers["Retry-After"] and "again" in during.json()["error"]
                    during, _ = _post(stack, "faulted", SKIP)
                assert during.status_code == 200, (outcomes, during.text[:300])
                asked.append(_texts(during.json()))
            while "correct?" not in asked[-1].lower():
                assert len(asked) < 15, asked
                asked.append(_texts(stack.say("faulted", SKIP)))
            assert asked == expected, f"each question once and in order, faults {outcomes}"

            opened = _texts(stack.say("faulted", "yes"))
            case = direct.get(CASE_ID.search(opened).group())
            assert (case.intent, case.priority, case.sender_id) == ("withdrawal_stuck", 2, stack.sender_key("faulted"))
            with direct.engine.connect() as conn:
                said = conn.execute(
                    text("SELECT count(*) FROM events WHERE sender_id = :sender AND type_name = 'user'"),
                    {"sender": stack.sender_key("faulted")},
                ).scalar()
            assert said == len(expected) + 1, "every customer message is in the tracker once (retries included)"
            assert direct.get(theft_case).status == "open" and direct.transcript(theft_case) == theft_lines
    finally:
        direct.engine.dispose()
