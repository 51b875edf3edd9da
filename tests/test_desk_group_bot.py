import asyncio
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cases.database import make_engine
from bot.cases.escalations import P1_REALERT_FLAG, Escalations
from bot.cases.group_updates import GroupUpdates
from bot.cases.instances import Instance
from bot.cases.store import TranscriptLine
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.storage import Outbox
from tests.auxil.desk_app import context_of, desk_agents, running_desk
from tests.auxil.fake_telegram import FakeTelegram, agent_group_message
from tests.auxil.fuzzing import FUZZ, texts
from tests.auxil.telegram_harness import ChannelHarness
from tests.auxil.waiting import until

GROUP = -1001234
AGENT, OTHER_AGENT, STRANGER = 4242, 4343, 9999
AGENT_TOKEN, CUSTOMER_TOKEN = "111:agents", "222:customers"

WAIT_SECONDS = 5.0  # how long each wait may take


def _env(fake: FakeTelegram, **extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_AGENT_BOT_TOKEN": AGENT_TOKEN,
        "TELEGRAM_AGENT_CHAT_ID": str(GROUP),
        "TELEGRAM_AGENT_IDS": f"{AGENT},{OTHER_AGENT}",
        "DESK_AGENTS": desk_agents({"alice": AGENT}),  # alice in the group is alice on the desk; 4343 is not linked
        "TELEGRAM_API_BASE_URL": fake.base_url,
        **extra,
    }


def _user(user_id: int, username: str | None = None) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Agent"}
    if username:
        user["username"] = username
    return user


def _from_group(user_id: int, text: str, message_id: int, reply_to: int | None = None, username: str | None = None):
    return agent_group_message(GROUP, _user(user_id, username), text, message_id=message_id, reply_to=reply_to)


def _agent_calls(fake: FakeTelegram, method: str = "sendMessage"):
    return [c for c in fake.calls_to(method) if c.token == AGENT_TOKEN]


def _queued_for(server, chat_id: int) -> list[str]:
    """What the desk queued for a Telegram customer (the Telegram channel sends it)."""
    engine = context_of(server).engine
    return [row["body"]["text"] for row in Outbox(engine, Instance(engine, "desk:test")).rows(chat_id)]


def _open(server, *, channel="telegram", sender_id="tg:555:555", priority=1):
    context = context_of(server)
    case = context.store.open_case(
        intent="suspected_theft",
        priority=priority,
        channel=channel,
        sender_id=sender_id,
        summary="Account taken over, BTC withdrawn",
        details={"coin": "BTC", "txid": "ab" * 32},
        transcript=[TranscriptLine(role="customer", text="my BTC is gone")],
    )
    return case


async def test_p1_alert_reaches_the_agents_group_within_5_seconds(sqlite_url):
    async with (
        FakeTelegram() as fake,
        running_desk(sqlite_url, **_env(fake, DESK_NO_AGENT_NOTICE_SECONDS="0.5")) as server,
    ):
        fake.queue_update(_from_group(AGENT, "/onduty", 1, username="alice_tg"))
        await until(lambda: any("on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        await asyncio.sleep(1.05)  # the bot just spoke in the group: Telegram allows ~1 message/s per chat
        started = time.monotonic()
        case = await asyncio.to_thread(_open, server)
        await until(
            lambda: any(case.id in c.params["text"] for c in _agent_calls(fake) if c.chat_id == GROUP), WAIT_SECONDS
        )
        alert = next(c for c in _agent_calls(fake) if case.id in c.params["text"])
        latency = alert.at - started
        print(f"\nP1 alert latency (case opened -> agents' group sendMessage): {latency * 1000:.0f} ms")
        assert latency < 5.0
        text = alert.params["text"]
        assert "P1" in text and "suspected_theft" in text and "Account taken over" in text
        assert "coin: BTC" in text
        assert f'<a href="tg://user?id={AGENT}">alice</a>' in text  # P1 mentions the agent on duty
        keyboard = alert.params["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in keyboard] == [f"claim:{case.id}", f"resolve:{case.id}"]
        context_of(server).store.add_attachment(
            case.id, kind="photo", name="screenshot.png", mime_type="image/png", size=10
        )
        await until(lambda: any("screenshot.png" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        update = next(c for c in _agent_calls(fake) if "screenshot.png" in c.params["text"])
        alert_id = context_of(server).ledger.first_alert_message(case.id, GROUP)
        assert update.params["reply_parameters"]["message_id"] == alert_id
        assert _queued_for(server, 555) == []  # an agent was on duty: no "nobody is on duty" notice
        fake.queue_update(_from_group(AGENT, "/offduty", 2, username="alice_tg"))
        await until(lambda: len(_queued_for(server, 555)) == 1, WAIT_SECONDS)  # everyone left: now it is told
        assert "No agent is on duty" in _queued_for(server, 555)[0]


async def test_reply_to_the_alert_reaches_the_telegram_customer_and_resolve_asks_for_rating(database_url, tmp_path):
    """The customer bot's channel polls Telegram too, so each update here names the bot it is for."""
    async with (
        FakeTelegram() as fake,
        running_desk(database_url, **_env(fake)) as server,
        ChannelHarness(fake, database_url, tmp_path, webhook=False, token=CUSTOMER_TOKEN),
    ):
        context = context_of(server)
        fake.queue_update(_from_group(AGENT, "/onduty", 49, username="alice_tg"), token=AGENT_TOKEN)
        await until(lambda: any("on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        case = await asyncio.to_thread(_open, server)
        other = await asyncio.to_thread(_open, server, sender_id="tg:777:777")
        await until(lambda: context.ledger.first_alert_message(other.id, GROUP) is not None, WAIT_SECONDS)
        alert_id = context.ledger.first_alert_message(case.id, GROUP)
        assert alert_id is not None
        fake.queue_update(
            _from_group(AGENT, "We are freezing your account now.", 50, reply_to=alert_id, username="alice_tg"),
            token=AGENT_TOKEN,
        )
        customer = lambda: [c for c in fake.calls_to("sendMessage", 555) if c.token == CUSTOMER_TOKEN]  # noqa: E731
        await until(lambda: len(customer()) == 2, WAIT_SECONDS)  # queued by the desk, sent by the channel
        claimed = f"An agent has taken your case {case.id} and will reply here."  # the reply claimed it first
        assert [c.params["text"] for c in customer()] == [claimed, "We are freezing your account now."]
        queued = f"Queued for the customer of {case.id}; the desk shows when it is sent."
        await until(lambda: any(c.params["text"] == queued for c in _agent_calls(fake)), WAIT_SECONDS)
        assert context.store.get(case.id).assignee == "alice"  # the first reply claims the case
        assert context.store.get(other.id).status == "open"  # another customer's case is untouched
        # a customer message to the claimed case is forwarded to the group as a reply to the alert
        context.store.record_message(case.id, TranscriptLine(role="customer", text="thank you, hurry"))
        await until(lambda: any("thank you, hurry" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        fake.queue_update(_from_group(AGENT, f"/resolve {case.id}", 51, username="alice_tg"), token=AGENT_TOKEN)
        await until(lambda: len(customer()) == 3, WAIT_SECONDS)
        assert case.id in customer()[2].params["text"] and "5" in customer()[2].params["text"]
        assert context.store.get(case.id).status == "resolved"
        assert context.store.get(other.id).status == "open"
        assert not [c for c in fake.calls_to("sendMessage", 777) if c.token == CUSTOMER_TOKEN]


async def test_non_agents_are_refused_and_audited_and_buttons_claim(sqlite_url):
    async with FakeTelegram() as fake, running_desk(sqlite_url, **_env(fake)) as server:
        context = context_of(server)
        case = await asyncio.to_thread(_open, server, channel="rest", sender_id="web-1")
        await until(lambda: context.ledger.first_alert_message(case.id, GROUP) is not None, WAIT_SECONDS)
        alert_id = context.ledger.first_alert_message(case.id, GROUP)
        fake.queue_update(_from_group(STRANGER, f"/claim {case.id}", 60))
        fake.queue_update(_from_group(STRANGER, "give me the money", 61, reply_to=alert_id))
        button = {
            "id": "cb-1",
            "from": _user(STRANGER),
            "chat_instance": "ci",
            "data": f"claim:{case.id}",
            "message": {
                "message_id": alert_id,
                "date": int(time.time()),
                "chat": {"id": GROUP, "type": "supergroup", "title": "Agents"},
                "text": "alert",
            },
        }
        fake.queue_update({"callback_query": button})
        await until(lambda: len(fake.calls_to("answerCallbackQuery")) == 1, WAIT_SECONDS)
        await until(
            lambda: sum("Only configured agents" in c.params["text"] for c in _agent_calls(fake)) == 2, WAIT_SECONDS
        )
        assert fake.calls_to("answerCallbackQuery")[0].params["text"] == "Only configured agents can do that."
        assert context.store.get(case.id).status == "open"
        assert [m for m in RestMailbox(context.engine).collect("web-1") if m["author"] != "desk"] == []
        refused = [(e.actor, e.action, e.allowed) for e in context.desk.audit.entries(case.id)]
        expected = [(f"tg:{STRANGER}", action, False) for action in ("claim", "claim", "reply")]
        assert sorted(refused) == sorted(expected)
        fake.queue_update({"callback_query": {**button, "id": "cb-2", "from": _user(AGENT, "alice_tg")}})
        await until(lambda: len(fake.calls_to("answerCallbackQuery")) == 2, WAIT_SECONDS)
        assert fake.calls_to("answerCallbackQuery")[1].params["text"].startswith("Refused: you are off duty")
        fake.queue_update(_from_group(AGENT, "/onduty", 64, username="alice_tg"))
        fake.queue_update({"callback_query": {**button, "id": "cb-3", "from": _user(AGENT, "alice_tg")}})
        await until(lambda: len(fake.calls_to("answerCallbackQuery")) == 3, WAIT_SECONDS)
        assert fake.calls_to("answerCallbackQuery")[2].params["text"] == f"{case.id}: claimed"
        assert context.store.get(case.id).assignee == "alice"
        fake.queue_update(_from_group(OTHER_AGENT, "/onduty", 65, username="bob_tg"))
        fake.queue_update(_from_group(OTHER_AGENT, f"/claim {case.id}", 62, username="bob_tg"))
        await until(
            lambda: any("already claimed by alice" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS
        )
        fake.queue_update(_from_group(OTHER_AGENT, "/cases", 63, username="bob_tg"))
        await until(lambda: any(c.params["text"].startswith("P1 " + case.id) for c in _agent_calls(fake)), WAIT_SECONDS)


async def test_unclaimed_p1_is_re_alerted_to_everyone_and_the_customer_is_told_nobody_is_on_duty(sqlite_url):
    async with FakeTelegram() as fake:
        env = _env(fake, P1_REALERT_SECONDS="0.5", DESK_NO_AGENT_NOTICE_SECONDS="0.3")
        async with running_desk(sqlite_url, **env) as server:
            context = context_of(server)
            case = await asyncio.to_thread(_open, server, channel="rest", sender_id="web-2")
            await until(lambda: any("Still unclaimed" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
            realert = next(c for c in _agent_calls(fake) if "Still unclaimed" in c.params["text"])
            assert f"tg://user?id={AGENT}" in realert.params["text"]
            assert f"tg://user?id={OTHER_AGENT}" in realert.params["text"]
            first = next(c for c in _agent_calls(fake) if case.id in c.params["text"])
            assert "nobody is on duty" in first.params["text"]
            mailbox = RestMailbox(context.engine)
            notices: list = []
            await until(lambda: bool(notices.extend(mailbox.collect("web-2")) or notices), WAIT_SECONDS)
            assert "No agent is on duty" in notices[0]["text"]
            await asyncio.sleep(1.2)  # the watcher keeps running: neither step repeats
            assert sum("Still unclaimed" in c.params["text"] for c in _agent_calls(fake)) == 1
            assert mailbox.collect("web-2") == []


async def test_a_re_alert_held_up_by_an_outage_is_dropped_once_the_case_was_claimed(sqlite_url):
    async with FakeTelegram() as fake:
        fake.rate_limit(retry_after=3, chat_id=GROUP)  # the group is out of reach for 3 s
        async with running_desk(sqlite_url, **_env(fake, P1_REALERT_SECONDS="0.5")) as server:
            context = context_of(server)
            case = await asyncio.to_thread(_open, server, channel="rest", sender_id="web-3")
            flags = Escalations(context.engine)
            await until(lambda: P1_REALERT_FLAG in flags.flags(case.id), WAIT_SECONDS)
            assert context.store.claim(case.id, "alice")  # while the re-alert still waits for the group
            await until(lambda: any("claimed by alice" in c.params["text"] for c in _agent_calls(fake)), 10)
            assert not any("Still unclaimed" in c.params["text"] for c in _agent_calls(fake))


async def test_two_desks_on_one_database_poll_the_agents_bot_once(sqlite_url):
    """Telegram allows one getUpdates consumer per bot: the second desk waits on the lease."""
    async with FakeTelegram() as fake, running_desk(sqlite_url, **_env(fake)), running_desk(sqlite_url, **_env(fake)):
        await asyncio.sleep(1.0)  # both desks are up; without the lease each would be long-polling now
        assert len(_agent_calls(fake, "getUpdates")) == 1
        fake.queue_update(_from_group(AGENT, "/onduty", 1, username="alice_tg"))
        await until(lambda: any("on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)


# -- fuzzing: commands, arguments, replies and buttons from agents and strangers -------------

COMMANDS = ["/onduty", "/offduty", "/cases", "/reply", "/note", "/claim", "/resolve", "/handback", "/help", "/x", ""]


async def test_fuzzed_group_updates_never_break_the_group_bot(pg_url, caplog):
    async with FakeTelegram() as fake, running_desk(pg_url, **_env(fake)) as server:
        loop = asyncio.get_running_loop()
        fake.queue_update(_from_group(AGENT, "/onduty", 1), token=AGENT_TOKEN)  # the bot holds its lease and polls
        await until(lambda: any("is on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        case = await asyncio.to_thread(_open, server)
        case_ids = st.sampled_from([case.id, case.id.lower(), "CX-000000", "CX-", "cx-" + "9" * 300, "CX-ZZZZZZ"])
        arguments = st.one_of(texts, st.builds(lambda c, t: f"{c} {t}", case_ids, texts))
        messages = st.builds(
            lambda user, command, rest, reply_to: _from_group(user, f"{command} {rest}".strip() or "hi", 1, reply_to),
            st.sampled_from([AGENT, OTHER_AGENT, STRANGER]),
            st.sampled_from(COMMANDS),
            arguments,
            st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
        )
        presses = st.builds(
            lambda user, data: {
                "callback_query": {"id": "q1", "from": _user(user), "chat_instance": "1", "data": data,
                                   "message": {"message_id": 1, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}}}
            },
            st.sampled_from([AGENT, STRANGER]),
            st.one_of(texts, st.builds("{}:{}".format, st.sampled_from(["claim", "resolve", "x", ""]), case_ids)),
        )  # fmt: skip

        async def deliver(update: dict) -> None:
            queued = fake.queue_update(update, token=AGENT_TOKEN)
            polled_past = lambda: any(  # noqa: E731
                int(c.params.get("offset") or 0) > queued["update_id"] for c in _agent_calls(fake, "getUpdates")
            )
            await until(polled_past, 60)

        @settings(FUZZ, max_examples=30)  # each example waits for a real poll: the suite's time is bounded
        @given(update=st.one_of(messages, presses))
        def one(update: dict) -> None:
            asyncio.run_coroutine_threadsafe(deliver(update), loop).result(timeout=90)

        await asyncio.to_thread(one)
        failures = [r.getMessage() for r in caplog.records if r.name.startswith("bot.desk") and r.exc_info]
        assert failures == []
        before = len(_agent_calls(fake))  # case update lines may still be going out, paced by the budget
        fake.queue_update(_from_group(AGENT, "/onduty", 2), token=AGENT_TOKEN)
        await until(lambda: any("is on duty" in c.params["text"] for c in _agent_calls(fake)[before:]), WAIT_SECONDS)


async def test_a_strangers_long_button_data_or_command_is_audited_not_crashed_on(pg_url, caplog):
    """Found by the fuzz test: a stranger's typed case id overflowed the audit row on PostgreSQL."""
    async with FakeTelegram() as fake, running_desk(pg_url, **_env(fake)) as server:
        pressed = {"message_id": 1, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}}
        press = {"callback_query": {"id": "q9", "from": _user(STRANGER), "chat_instance": "1",
                                    "data": "cl\x00aim:" + "X" * 300, "message": pressed}}  # fmt: skip
        fake.queue_update(press, token=AGENT_TOKEN)
        fake.queue_update(_from_group(STRANGER, "/" + "a" * 100 + " CX-" + "9" * 40, 2), token=AGENT_TOKEN)
        await until(lambda: len(_agent_calls(fake, "answerCallbackQuery")) == 1, WAIT_SECONDS)
        await until(lambda: any("Only configured agents" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
        refused = [e for e in await asyncio.to_thread(context_of(server).desk.audit.entries) if not e.allowed]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bot.desk") and r.exc_info] == []
    assert len(refused) == 2 and all(e.case_id is None and len(e.action) <= 32 for e in refused)


# -- crashes: an update is confirmed to Telegram only once handled, and never acts twice ------

STALL_SECONDS = 3.0  # a call this long outlives the desk that made it (stopped right after)


async def _quiet_claimed_case(fake: FakeTelegram, server, sender_id: str):
    """An on-duty agent and a P2 REST case they claimed, with every group message about it sent."""
    fake.queue_update(_from_group(AGENT, "/onduty", 1, username="alice_tg"))
    await until(lambda: any("on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
    case = await asyncio.to_thread(_open, server, channel="rest", sender_id=sender_id, priority=2)
    await until(lambda: context_of(server).ledger.first_alert_message(case.id, GROUP) is not None, WAIT_SECONDS)
    fake.queue_update(_from_group(AGENT, f"/claim {case.id}", 2, username="alice_tg"))
    await until(lambda: any(f"{case.id} claimed by" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
    await until(lambda: any(f"Claim on {case.id}" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
    return case, context_of(server).ledger.first_alert_message(case.id, GROUP)


async def test_a_crash_mid_update_reads_it_again_without_repeating_what_was_done(sqlite_url):
    async with FakeTelegram() as fake:
        async with running_desk(sqlite_url, **_env(fake)) as first:
            case, alert_id = await _quiet_claimed_case(fake, first, "web-8")
            fake.stall("sendMessage", 0)  # the answer to the note
            fake.stall("sendMessage", STALL_SECONDS)  # the answer to the reply: the desk stops meanwhile
            note = fake.queue_update(_from_group(AGENT, f"/note {case.id} called the customer", 3, username="alice_tg"))
            reply = fake.queue_update(_from_group(AGENT, "We froze your account.", 4, alert_id, "alice_tg"))
            await until(lambda: any("Sent to the customer" in c.params["text"] for c in _agent_calls(fake)), 5)
        handled = GroupUpdates(make_engine(sqlite_url))
        assert (handled.status(note["update_id"]), handled.status(reply["update_id"])) == ("done", "handling")

        async with running_desk(sqlite_url, **_env(fake)) as second:
            await until(lambda: any("Not repeated" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
            await until(lambda: handled.status(reply["update_id"]) == "done", WAIT_SECONDS)
            context = context_of(second)
            lines = [(line.role, line.text) for line in context.store.transcript(case.id)]
            assert lines.count(("note", "called the customer")) == 1
            assert lines.count(("agent", "We froze your account.")) == 1
            customer = [m["text"] for m in RestMailbox(context.engine).collect("web-8")]
            claimed = f"An agent has taken your case {case.id} and will reply here."
            assert customer == [claimed, "We froze your account."]
            notice = next(c for c in _agent_calls(fake) if "Not repeated" in c.params["text"])
            assert case.id in notice.params["text"] and notice.params["reply_parameters"]["message_id"] == 4


async def test_a_claim_cut_short_by_a_crash_is_read_again_and_not_claimed_twice(sqlite_url):
    async with FakeTelegram() as fake:
        async with running_desk(sqlite_url, **_env(fake)) as first:
            fake.queue_update(_from_group(AGENT, "/onduty", 1, username="alice_tg"))
            await until(lambda: any("on duty" in c.params["text"] for c in _agent_calls(fake)), WAIT_SECONDS)
            case = await asyncio.to_thread(_open, first, channel="rest", sender_id="web-9", priority=2)
            await until(lambda: context_of(first).ledger.first_alert_message(case.id, GROUP) is not None, 5)
            fake.stall("answerCallbackQuery", STALL_SECONDS)  # claimed, then the desk stops before answering
            press = fake.queue_update(
                {
                    "callback_query": {
                        "id": "cb-crash",
                        "from": _user(AGENT, "alice_tg"),
                        "chat_instance": "ci",
                        "data": f"claim:{case.id}",
                        "message": {"message_id": 1, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}},
                    }
                }
            )
            await until(lambda: len(fake.calls_to("answerCallbackQuery")) == 1, WAIT_SECONDS)
            assert context_of(first).store.get(case.id).assignee == "alice"

        async with running_desk(sqlite_url, **_env(fake)) as second:
            await until(lambda: len(fake.calls_to("answerCallbackQuery")) == 2, WAIT_SECONDS)  # read again
            assert fake.calls_to("answerCallbackQuery")[1].params["text"] == f"{case.id}: claimed"  # hers already
            handled = GroupUpdates(context_of(second).engine)
            await until(lambda: handled.status(press["update_id"]) == "done", WAIT_SECONDS)
            claims = [e for e in context_of(second).desk.audit.entries(case.id) if e.action == "claim" and e.allowed]
            assert len(claims) == 1
