"""End to end: a customer's P1 message over REST reaches the agents' group, an agent answers
from the group, the customer gets it on the next poll, the agent resolves, the bot resumes.

Runs the trained bot (`make test` trains it first) with the desk in this process.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.auxil.desk_app import context_of, running_desk
from tests.auxil.fake_telegram import FakeTelegram, agent_group_message
from tests.auxil.rasa_stack import rasa_stack
from tests.auxil.waiting import until

pytestmark = pytest.mark.slow
GROUP, AGENT, TOKEN = -1009876, 4242, "111:agents"
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")


def _agent_says(text: str, message_id: int, reply_to: int | None = None) -> dict:
    ann = {"id": AGENT, "is_bot": False, "first_name": "Ann", "username": "ann_sec"}
    return agent_group_message(GROUP, ann, text, message_id=message_id, reply_to=reply_to)


async def test_p1_from_a_customer_message_to_the_agents_group_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'support.db'}"
    env = {
        "TELEGRAM_AGENT_BOT_TOKEN": TOKEN,
        "TELEGRAM_AGENT_CHAT_ID": str(GROUP),
        "TELEGRAM_AGENT_IDS": str(AGENT),
    }
    stack_cm = rasa_stack(tmp_path, url)
    stack = await asyncio.to_thread(stack_cm.__enter__)
    try:
        async with FakeTelegram() as fake, running_desk(url, TELEGRAM_API_BASE_URL=fake.base_url, **env) as server:
            group = lambda: [c for c in fake.calls_to("sendMessage", GROUP) if c.token == TOKEN]  # noqa: E731
            fake.queue_update(_agent_says("/onduty", 1))
            await until(lambda: any("on duty" in c.params["text"] for c in group()), 10)
            await asyncio.sleep(1.05)  # Telegram's ~1 message/s per chat, after the bot's answer above
            sender = "e2e-desk-theft"
            started = time.monotonic()
            replies = await asyncio.to_thread(
                stack.say, sender, "someone logged into my account and withdrew all my USDT, it wasn't me"
            )
            case_id = CASE_ID.search("\n".join(r.get("text", "") for r in replies)).group()
            alert = await until(lambda: next((c for c in group() if case_id in c.params["text"]), None), 5)
            latency = alert.at - started
            print(f"\nP1 alert latency, customer message -> agents' group (incl. Rasa and actions): {latency:.2f} s")
            assert latency < 5.0
            assert "P1" in alert.params["text"] and "tg://user?id=4242" in alert.params["text"]

            context = context_of(server)
            # the ledger notes the alert's message id just after Telegram took it
            alert_id = await until(lambda: context.ledger.first_alert_message(case_id, GROUP), 10)
            fake.queue_update(_agent_says("Ann from security here: I froze withdrawals.", 2, reply_to=alert_id))
            await until(lambda: context.store.get(case_id).status == "claimed", 30)  # the group bot long-polls
            reply = "Ann from security here: I froze withdrawals."
            polled: list[dict] = []
            deadline = time.monotonic() + 10
            while reply not in [m["text"] for m in polled] and time.monotonic() < deadline:
                polled += await asyncio.to_thread(stack.poll, sender)  # the client polls, as `make chat` does
                await asyncio.sleep(0.2)
            notice, answer = [m["text"] for m in polled]
            assert notice.startswith(f"An agent has taken your case {case_id}") and answer == reply

            quiet = await asyncio.to_thread(stack.say, sender, "thank you, it was about 2000 USDT")
            assert quiet == [], "the bot is silent while the agent owns the case"
            await until(lambda: any("2000 USDT" in c.params["text"] for c in group()), 10)

            fake.queue_update(_agent_says(f"/resolve {case_id}", 3))
            await until(lambda: context.store.get(case_id).status == "resolved", 10)
            after = await asyncio.to_thread(stack.say, sender, "ok thanks")
            texts = [m.get("text", "") for m in after]
            assert any(case_id in t and "5" in t for t in texts), texts  # the rating question, on the next poll
            assert len(texts) > 1, "the bot answers again once the case is resolved"
            again = await asyncio.to_thread(stack.say, sender, "someone logged into my account again and took my ETH")
            new_case = CASE_ID.search("\n".join(m.get("text", "") for m in again))
            assert new_case and new_case.group() != case_id, "a new P1, not an answer to the form the agent overtook"
    finally:
        await asyncio.to_thread(stack_cm.__exit__, None, None, None)
