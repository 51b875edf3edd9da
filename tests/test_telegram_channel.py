"""The Telegram channel end to end over HTTP: real PTB, the fake Bot API, a recording Rasa handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from bot.cases.store import TranscriptLine
from connectors.telegram.storage import telegram_updates as inbox_table
from tests.auxil.fake_telegram import BOT_USER, FakeTelegram, group_message, private_message
from tests.auxil.fuzzing import FUZZ, bodies, telegram_updates
from tests.auxil.telegram_harness import SECRET, ChannelHarness, domain_texts, reads_first

CHAT = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def harness(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> AsyncIterator[ChannelHarness]:
    async with ChannelHarness(fake, sqlite_url, tmp_path) as running:
        yield running


def update(update_id: int, **content: object) -> dict[str, object]:
    return {"update_id": update_id, **content}


async def send(harness: ChannelHarness, *updates: dict[str, object]) -> None:
    for item in updates:
        status, _ = await harness.post(item)
        assert status == 200
    await harness.idle()


def press(query_id: str, data: str, offered: list[str] | None = None, chat: int = CHAT) -> dict[str, object]:
    """A button press as Telegram sends it: the pressed message comes with its keyboard."""
    keyboard = [[{"text": d, "callback_data": d} for d in (offered if offered is not None else [data])]]
    return {
        "id": query_id,
        "from": {"id": chat, "is_bot": False, "first_name": "Ada"},
        "chat_instance": "ci",
        "data": data,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": chat, "type": "private"},
            "from": BOT_USER,
            "text": "Pick one",
            "reply_markup": {"inline_keyboard": keyboard},
        },
    }


def inbox_statuses(harness: ChannelHarness) -> dict[int, str]:
    with harness.engine.connect() as conn:
        return {r.update_id: r.status for r in conn.execute(inbox_table.select()).all()}


async def test_without_a_token_the_channel_answers_503_and_starts_nothing(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    async with ChannelHarness(fake, sqlite_url, tmp_path, token="") as idle:
        status, _ = await idle.post(update(1, message=private_message(CHAT, "hi")))
        assert status == 503
        assert (await idle.get("/webhooks/telegram/"))[0] == 503
        await asyncio.sleep(0.1)
    assert fake.calls == [] and idle.received == []


async def test_start_up_registers_the_webhook_with_secret_and_allowed_updates(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    assert fake.webhook["url"] == "https://bot.example.com/webhooks/telegram/webhook"
    assert fake.webhook["secret_token"] == SECRET
    assert fake.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    await send(
        harness, update(1, message=private_message(CHAT, "one")), update(2, message=private_message(CHAT, "two"))
    )
    assert len(fake.calls_to("getMe")) == 1  # once at start-up, never per request


async def test_set_webhook_tolerates_a_429(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    fake.rate_limit(method="setWebhook", retry_after=1)
    async with ChannelHarness(fake, sqlite_url, tmp_path) as running:
        assert len(fake.calls_to("setWebhook")) == 2
        assert fake.webhook["secret_token"] == SECRET
        await send(running, update(1, message=private_message(CHAT, "hello")))
        assert running.texts() == ["hello"]


async def test_private_text_goes_to_rasa_and_the_reply_back(harness: ChannelHarness, fake: FakeTelegram) -> None:
    await send(harness, update(10, message=private_message(CHAT, "my withdrawal <is> stuck & pending")))
    [message] = harness.received
    assert message.sender_id == f"tg:{CHAT}:{CHAT}"
    assert message.input_channel == "telegram"
    assert message.text == "my withdrawal <is> stuck & pending"
    assert fake.sent_texts(CHAT) == ["You said: my withdrawal &lt;is&gt; stuck &amp; pending"]
    typing, reply = fake.calls_to("sendChatAction", CHAT)[0], fake.calls_to("sendMessage", CHAT)[0]
    assert typing.at <= reply.at and typing.params["action"] == "typing"
    assert inbox_statuses(harness) == {10: "done"}


@pytest.mark.parametrize("secret", [None, "wrong"])
async def test_wrong_or_missing_secret_is_403_and_nothing_is_stored(
    harness: ChannelHarness, secret: str | None
) -> None:
    status, _ = await harness.post(update(11, message=private_message(CHAT, "hi")), secret=secret)
    assert status == 403
    await harness.idle()
    assert harness.received == [] and inbox_statuses(harness) == {}


NESTED = b'{"update_id": 13, "message": ' + b'{"a": ' * 500 + b"1" + b"}" * 501  # no update nests like this


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe", NESTED, b"[" * 100_000]
)
async def test_malformed_body_is_400_and_the_server_keeps_serving(harness: ChannelHarness, raw: bytes) -> None:
    status, body = await harness.post(raw=raw)
    assert status == 400 and "error" in body
    await send(harness, update(12, message=private_message(CHAT, "still here")))
    assert harness.texts() == ["still here"]


async def test_duplicated_update_is_processed_once(harness: ChannelHarness, fake: FakeTelegram) -> None:
    item = update(20, message=private_message(CHAT, "only once"))
    statuses = await asyncio.gather(*(harness.post(item) for _ in range(3)))
    assert [s for s, _ in statuses] == [200, 200, 200]
    await harness.idle()
    await send(harness, item)
    assert harness.texts() == ["only once"]
    assert fake.sent_texts(CHAT) == ["You said: only once"]


async def test_messages_of_one_chat_are_processed_in_order(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    async with ChannelHarness(fake, sqlite_url, tmp_path, reply_delay=0.2) as running:
        for i in range(5):
            status, _ = await running.post(update(100 + i, message=private_message(CHAT, f"m{i}", message_id=i)))
            assert status == 200
        await running.post(update(200, message=private_message(7, "other chat")))
        await running.idle()
    mine = [t for t in running.texts() if t.startswith("m")]
    assert mine == ["m0", "m1", "m2", "m3", "m4"]
    assert running.texts().index("other chat") < 4  # another chat did not wait for this one


def every_kind_of_update() -> list[dict[str, object]]:
    chat = {"id": CHAT, "type": "private", "first_name": "Ada"}
    file = {"file_id": "f1", "file_unique_id": "u1"}
    return [
        update(301, message=private_message(CHAT, "plain text")),
        update(302, edited_message={**private_message(CHAT, "edited text"), "edit_date": 1}),
        update(303, message=private_message(CHAT, photo=[{**file, "width": 90, "height": 90, "file_size": 10}])),
        update(
            304, message=private_message(CHAT, document={**file, "file_name": "a.pdf", "mime_type": "application/pdf"})
        ),
        update(
            305,
            message=private_message(
                CHAT,
                sticker={**file, "type": "regular", "width": 1, "height": 1, "is_animated": False, "is_video": False},
            ),
        ),
        update(306, message=private_message(CHAT, voice={**file, "duration": 3})),
        update(307, message=private_message(CHAT, location={"latitude": 1.0, "longitude": 2.0})),
        update(308, message=private_message(CHAT, contact={"phone_number": "+100", "first_name": "Ada"})),
        update(309, callback_query=press("cbq-9", "/affirm")),
        update(
            310, message=group_message(-100, 5, "", new_chat_members=[{"id": 6, "is_bot": False, "first_name": "N"}])
        ),
        update(
            311,
            channel_post={
                "message_id": 1,
                "date": 1,
                "chat": {"id": -200, "type": "channel", "title": "News"},
                "text": "post",
            },
        ),
        update(
            312,
            my_chat_member={
                "chat": chat,
                "from": chat | {"is_bot": False},
                "date": 1,
                "old_chat_member": {"status": "member", "user": BOT_USER},
                "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
            },
        ),
        update(313, some_future_update_type={"anything": True}),
        update(314, message=private_message(CHAT, "/unknown_command")),
    ]


async def test_every_update_type_answers_200_and_is_handled(harness: ChannelHarness, fake: FakeTelegram) -> None:
    items = every_kind_of_update()
    await send(harness, *items)
    statuses = inbox_statuses(harness)
    assert statuses == {item["update_id"]: "done" for item in items}
    assert harness.texts() == ["plain text", "edited text", "/affirm"]
    assert harness.received[1].metadata["edited"] is True
    non_text = domain_texts("utter_telegram_non_text")
    assert sum(t in non_text for t in fake.sent_texts(CHAT)) == 4  # sticker, voice, location, contact
    assert fake.calls_to("answerCallbackQuery")[0].params["callback_query_id"] == "cbq-9"
    assert fake.sent_texts(-200) == [] and fake.sent_texts(-100) == []


async def test_button_press_is_answered_at_once_then_fed_to_rasa(harness: ChannelHarness, fake: FakeTelegram) -> None:
    await send(harness, update(400, message=private_message(CHAT, "/start")))
    keyboard_message = fake.calls_to("sendMessage", CHAT)[0]
    button = keyboard_message.params["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": "Withdrawal", "callback_data": "/withdrawal_stuck"}
    await send(harness, update(401, callback_query=press("cbq-1", button["callback_data"])))
    assert harness.texts() == ["/greet", "/withdrawal_stuck"]
    answer = fake.calls_to("answerCallbackQuery")[0]
    assert answer.at < fake.calls_to("sendMessage", CHAT)[1].at
    assert fake.calls_to("editMessageReplyMarkup")[0].params["message_id"] == "1"


async def test_a_double_tapped_button_is_one_choice(harness: ChannelHarness, fake: FakeTelegram) -> None:
    """The second tap reaches us before the keyboard's removal reaches the phone: answered, not run again."""
    choices = ["/affirm", "/deny"]
    first, second = press("cbq-4", "/affirm", offered=choices), press("cbq-5", "/deny", offered=choices)
    await send(harness, update(405, callback_query=first), update(406, callback_query=second))
    assert harness.texts() == ["/affirm"]
    assert [call.params["callback_query_id"] for call in fake.calls_to("answerCallbackQuery")] == ["cbq-4", "cbq-5"]
    assert inbox_statuses(harness) == {405: "done", 406: "done"}
    later = press("cbq-6", "/deny", offered=choices)
    later["message"]["message_id"] = 2  # type: ignore[index]  # the next question's keyboard
    await send(harness, update(407, callback_query=later))
    assert harness.texts() == ["/affirm", "/deny"]


async def test_long_button_payload_survives_the_64_byte_limit(harness: ChannelHarness, fake: FakeTelegram) -> None:
    payload = '/inform{"issue_type": "withdrawal_stuck", "network": "TRC20", "coin": "USDT"}'
    assert len(payload.encode()) > 64
    await harness.runtime.deliver(
        CHAT, None, [{"kind": "text", "text": "Pick", "buttons": [{"title": "T", "payload": payload}]}]
    )
    await harness.idle()  # sent by the delivery task, off the caller
    data = fake.calls_to("sendMessage", CHAT)[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64
    await send(harness, update(402, callback_query=press("cbq-2", data)))
    assert harness.texts() == [payload]


async def test_forged_callback_data_is_answered_but_ignored(harness: ChannelHarness, fake: FakeTelegram) -> None:
    forged = press("cbq-3", '/inform{"account_id": "victim"}', offered=["/affirm", "/deny"])
    await send(harness, update(403, callback_query=forged))
    assert harness.received == []
    assert fake.calls_to("answerCallbackQuery") and fake.calls_to("editMessageReplyMarkup") == []


@pytest.mark.parametrize("typed", ['/inform{"email": "a@b.c"}', "/request_human", "/unknown", "/ hello"])
async def test_typed_slash_text_never_reaches_rasa_as_an_intent(
    harness: ChannelHarness, fake: FakeTelegram, typed: str
) -> None:
    await send(harness, update(404, message=private_message(CHAT, typed)))
    assert harness.received == []
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_help")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/start", "/greet"),
        ("/start@ExampleSupportBot", "/greet"),
        ("/human", "/request_human"),
        ("/status", "/ticket_status"),
        ("/cancel", "/cancel"),
    ],
)
async def test_commands_map_to_intents(harness: ChannelHarness, typed: str, expected: str) -> None:
    await send(harness, update(500, message=private_message(CHAT, typed)))
    assert harness.texts() == [expected]


async def test_search_reaches_rasa_as_a_help_center_search_of_its_words(harness: ChannelHarness) -> None:
    await send(
        harness,
        update(510, message=private_message(CHAT, "/search 출금 수수료")),
        update(511, message=private_message(CHAT, "/search@ExampleSupportBot my password is hunter2")),
        update(512, message=private_message(CHAT, "/search")),
    )
    korean, secret, bare = harness.received
    assert korean.text == "출금 수수료" and korean.parse_data["intent"]["name"] == "search_help_center"
    assert [(e["entity"], e["value"]) for e in korean.parse_data["entities"]] == [("language", "ko")]
    assert "hunter2" not in secret.text and "[REDACTED]" in secret.text  # the gate saw it first
    assert secret.parse_data["intent"]["name"] == "search_help_center"
    assert bare.text == "/search" and bare.parse_data["intent"]["name"] == "search_help_center"


async def test_start_deep_link_payload_is_passed_as_metadata(harness: ChannelHarness) -> None:
    await send(harness, update(501, message=private_message(CHAT, "/start group")))
    [message] = harness.received
    assert message.text == "/greet" and message.metadata["start_payload"] == "group"


async def test_the_profile_name_goes_to_rasa_as_the_customers_display_name(harness: ChannelHarness) -> None:
    profile = {"id": CHAT, "is_bot": False, "first_name": "Ann\u202e", "last_name": " Lee ", "username": "ann_l"}
    nameless = {"id": CHAT, "is_bot": False, "first_name": "\u200b", "username": "ann_l"}
    await send(
        harness,
        update(511, message=private_message(CHAT, "hello", **{"from": profile})),
        update(512, message=private_message(CHAT, "again", **{"from": nameless})),
    )
    named, handle_only = harness.received
    assert named.metadata["customer_name"] == "Ann Lee (@ann_l)"  # the text direction control is dropped
    assert handle_only.metadata["customer_name"] == "@ann_l"
    assert named.sender_id == f"tg:{CHAT}:{CHAT}"  # the identity is the user id, whatever the name


async def test_help_answers_from_the_domain_without_rasa(harness: ChannelHarness, fake: FakeTelegram) -> None:
    await send(harness, update(502, message=private_message(CHAT, "/help")))
    assert harness.received == []
    [sent] = fake.sent_texts(CHAT)
    assert sent in domain_texts("utter_help")


async def test_group_answers_only_when_mentioned_or_replied_and_moves_to_private(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    group = -1001
    bot_reply = {
        "message_id": 9,
        "date": 1,
        "chat": {"id": group, "type": "supergroup"},
        "from": BOT_USER,
        "text": "hi",
    }
    await send(
        harness,
        update(600, message=group_message(group, 5, "anyone else has a stuck withdrawal?", message_id=1)),
        update(601, message=group_message(group, 5, "@ExampleSupportBot my withdrawal is stuck", message_id=2)),
        update(602, message=group_message(group, 6, "still stuck", message_id=3, reply_to_message=bot_reply)),
        update(603, message=group_message(group, 6, "/help@OtherBot", message_id=4)),
    )
    assert harness.received == []  # nothing said in a group reaches the dialogue
    replies = fake.calls_to("sendMessage", group)
    assert [r.params["reply_parameters"]["message_id"] for r in replies] == [2, 3]
    assert all("https://t.me/ExampleSupportBot?start=group" in r.params["text"] for r in replies)


async def test_secret_is_redacted_before_rasa_and_the_customer_is_warned(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    seed = "abandon ability able about above absent absorb abstract absurd abuse access accident"
    await send(harness, update(700, message=private_message(CHAT, f"my seed is {seed}")))
    [message] = harness.received
    assert "abandon" not in (message.text or "") and "[REDACTED]" in (message.text or "")
    assert message.metadata["redacted"] == ["seed_phrase"]  # found before the inbox stored the update
    assert reads_first(fake.sent_texts(CHAT), domain_texts("utter_secret_redacted"))


async def test_a_secret_in_the_start_payload_never_reaches_rasa(harness: ChannelHarness, fake: FakeTelegram) -> None:
    seed = "abandon ability able about above absent absorb abstract absurd abuse access accident"
    await send(harness, update(701, message=private_message(CHAT, f"/start {seed}")))
    [message] = harness.received
    assert message.text == "/greet" and message.metadata["start_payload"] == "[REDACTED]"
    assert message.metadata["redacted"] == ["seed_phrase"]
    assert reads_first(fake.sent_texts(CHAT), domain_texts("utter_secret_redacted"))
    assert not any("abandon" in text for text in fake.sent_texts(CHAT))


@pytest.mark.parametrize(
    "payload,secret,warned",
    [
        ("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", "4c0883a69102937d6231", False),
        ("pw_Hunter2x9Q", "Hunter2x9Q", True),
    ],
)
async def test_a_secret_looking_start_payload_never_reaches_the_tracker(
    harness: ChannelHarness, fake: FakeTelegram, payload: str, secret: str, warned: bool
) -> None:
    """The payload goes to Rasa as metadata, past the gate: a bare hash in it is never the txid asked for."""
    await send(harness, update(702, message=private_message(CHAT, f"/start {payload}")))
    [message] = harness.received
    assert message.text == "/greet" and secret not in str(message.metadata)
    assert "[REDACTED]" in message.metadata["start_payload"]
    notices = domain_texts("utter_secret_redacted")
    assert any(notice in text for text in fake.sent_texts(CHAT) for notice in notices) == warned


async def test_a_mention_after_a_secret_in_a_group_is_still_a_mention(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    text = "my password: hunter2xyz @ExampleSupportBot why is my withdrawal stuck"
    await send(harness, update(702, message=group_message(-1007, 8, text, message_id=5)))
    [reply] = fake.calls_to("sendMessage", -1007)
    assert reply.params["reply_parameters"]["message_id"] == 5
    assert harness.received == []


async def test_conversation_owned_by_an_agent_does_not_reach_rasa(harness: ChannelHarness, fake: FakeTelegram) -> None:
    sender = f"tg:{CHAT}:{CHAT}"
    case = harness.store.open_case(
        intent="withdrawal_stuck", priority=2, channel="telegram", sender_id=sender, summary="stuck", details={}
    )
    assert harness.store.claim(case.id, "agent-1")
    await send(harness, update(800, message=private_message(CHAT, "any news?")))
    assert harness.received == [] and fake.sent_texts(CHAT) == []
    assert harness.store.transcript(case.id)[-1] == TranscriptLine(
        role="customer", text="any news?", author=sender, at=harness.store.transcript(case.id)[-1].at
    )


# -- fuzzing: whatever arrives at the webhook, never a 5xx, and the channel keeps serving ----


@pytest.mark.parametrize("update_id", [True, -1, 2**63, 2**70, 1.5, "7"])
async def test_an_update_id_the_inbox_cannot_store_is_refused(harness: ChannelHarness, update_id: object) -> None:
    status, _ = await harness.post({"update_id": update_id, "message": private_message(CHAT, "hi")})
    assert status == 400
    assert inbox_statuses(harness) == {}


async def test_fuzzed_webhook_posts_never_get_a_5xx(harness: ChannelHarness, fake: FakeTelegram, caplog) -> None:
    url = harness.url("/webhooks/telegram/webhook")
    statuses: set[int] = set()

    @FUZZ
    @given(body=bodies(telegram_updates), secret=st.sampled_from([SECRET, SECRET, None, "wrong", SECRET + "x"]))
    @example(body=b'{"update_id": 5, "message": {"text": "hi"}}', secret=SECRET)  # each answer at least once
    @example(body=b"{", secret=SECRET)
    @example(body=b"{}", secret="wrong")
    def post(body: bytes, secret: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        status = requests.post(url, data=body, headers=headers, timeout=10).status_code
        statuses.add(status)
        assert status < 500, body[:200]
        if secret != SECRET:
            assert status == 403

    await asyncio.to_thread(post)
    assert 200 in statuses and 400 in statuses and 403 in statuses
    await asyncio.wait_for(harness.idle(), 60)
    unhandled = [r for r in caplog.records if r.name.startswith("sanic") and r.levelno >= 40]
    assert unhandled == [], [r.getMessage() for r in unhandled[:3]]
    harness.received.clear()
    await send(harness, update(10**9, message=private_message(CHAT, "still there?")))
    assert harness.texts() == ["still there?"]


async def test_lang_sets_the_language_of_the_conversation_and_answers_in_it(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    await send(harness, update(800, message=private_message(CHAT, "/lang ko")))
    assert harness.received == []  # set by the channel, not a turn of the dialogue
    answer = fake.calls_to("sendMessage", CHAT)[0]
    assert answer.params["text"].startswith("이제 한국어로 답변드리겠습니다")
    buttons = [b for row in answer.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["English", "한국어", "中文"]
    tracker = await harness.app_agent.tracker_store.retrieve(f"tg:{CHAT}:{CHAT}")
    assert tracker.get_slot("language") == "ko"

    await send(harness, update(801, message=private_message(CHAT, "/whatever")))  # nothing to tell the language by
    assert fake.sent_texts(CHAT)[-1].startswith("어떤 문제가 있는지 말씀해 주시면")

    offered = [b["callback_data"] for b in buttons]
    await send(harness, update(802, callback_query=press("cbq-lang", offered[2], offered=offered)))
    assert fake.sent_texts(CHAT)[-1].startswith("我将用中文为您解答")
    assert harness.received == []
    tracker = await harness.app_agent.tracker_store.retrieve(f"tg:{CHAT}:{CHAT}")
    assert tracker.get_slot("language") == "zh"


async def test_a_notice_for_a_message_goes_out_in_that_messages_language(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    seed = "abandon ability able about above absent absorb abstract absurd abuse access accident"
    await send(harness, update(810, message=private_message(CHAT, f"我的助记词是 {seed}")))
    assert fake.sent_texts(CHAT)[0].startswith("您消息中的敏感信息在保存或被任何人看到之前已被删除")


async def test_start_greets_in_the_language_of_the_customers_app_when_it_is_korean_or_chinese(
    harness: ChannelHarness,
) -> None:
    apps = [private_message(CHAT + n, "/start") for n in range(3)]
    for message, code in zip(apps, ["ko", "zh-hans", "fr"], strict=True):
        message["from"]["language_code"] = code
    await send(harness, *(update(820 + n, message=m) for n, m in enumerate(apps)))
    greeted = {m.sender_id: m.text for m in harness.received}  # three chats: handled side by side
    assert [greeted[f"tg:{CHAT + n}:{CHAT + n}"] for n in range(3)] == [
        '/greet{"language": "ko"}',
        '/greet{"language": "zh"}',
        "/greet",
    ]
