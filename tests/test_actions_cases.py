"""Case actions against a real SQLite case store: start, open, read back, correct, hand off, status, cancel."""

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.cancel import ActionCancelCase
from bot.actions.case_access import case_store, escalations
from bot.actions.case_status import ActionCaseStatus
from bot.actions.correction import ActionApplyCorrection
from bot.actions.families import CASE_SLOTS, DETAIL_SLOTS, HELP_SLOTS
from bot.actions.handoff import ActionHandoff
from bot.actions.open_case import ActionOpenCase
from bot.actions.read_back import ActionReadBack
from bot.actions.start_case import ActionStartCase
from bot.cases.agents import DutyRoster
from bot.cases.escalations import NO_AGENT_FLAG
from bot.cases.schema import outbox
from tests.auxil.action_trackers import bot, domain, entity, fixture, slot, tracker, user


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'support.db'}")
    monkeypatch.setenv("OFFICIAL_DOMAINS", "example-exchange.com,app.example-exchange.com")
    monkeypatch.setenv("SUPPORT_HANDLES", "@ExampleExchangeSupport")
    case_store.cache_clear()
    escalations.cache_clear()
    yield case_store()
    case_store().engine.dispose()
    case_store.cache_clear()
    escalations.cache_clear()


async def run(action, t):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, domain())
    return events, dispatcher.messages


def outbox_events(store, case_id):
    with store.engine.connect() as conn:
        return [r.event for r in conn.execute(select(outbox.c.event).where(outbox.c.case_id == case_id)).all()]


def cleared():
    return [SlotSet(name, None) for name in (*DETAIL_SLOTS, *HELP_SLOTS)]


# ------------------------------------------------------------------ action_start_case


async def test_start_case_ranks_theft_as_p1_and_keeps_what_the_customer_said(store):
    text = "someone hacked my account and withdrew 2 ETH"
    t = tracker([user(text, "suspected_theft", [entity("amount", "2"), entity("coin", "ETH")])])
    events, messages = await run(ActionStartCase(), t)
    assert events == [
        *cleared(),
        SlotSet("description", text),
        SlotSet("amount", "2"),
        SlotSet("coin", "ETH"),
        SlotSet("case_intent", "suspected_theft"),
        SlotSet("case_priority", "P1"),
        SlotSet("case_family", "theft"),
        SlotSet("case_id", None),
        SlotSet("case_urgent", True),
    ]
    assert messages == []  # the security steps come with the case id, from action_open_case


async def test_start_case_explains_a_stuck_withdrawal_and_normalises_entities(store):
    t = tracker([user("my bitcoin withdrawal is stuck", "withdrawal_stuck", [entity("coin", "bitcoin")])])
    events, messages = await run(ActionStartCase(), t)
    assert SlotSet("coin", "BTC") in events
    assert events[-5:] == [
        SlotSet("case_intent", "withdrawal_stuck"),
        SlotSet("case_priority", "P2"),
        SlotSet("case_family", "funds"),
        SlotSet("case_id", None),
        SlotSet("case_urgent", False),
    ]
    assert [m["response"] for m in messages] == ["utter_withdrawal_status_info"]


@pytest.mark.parametrize(
    ("text", "intent", "priority", "intro"),
    [
        ("I got a fake support DM on telegram", "phishing_report", "P3", ["utter_phishing_warning"]),
        ("I clicked a link and entered my password on a fake site", "phishing_report", "P1", []),
        ("i typed my seed phrase into a fake wallet app", "phishing_report", "P1", []),
        ("my 2FA codes don't work", "two_factor_issue", "P3", []),  # the help center answers next
        ("2fa was reset and someone withdrew my USDT", "two_factor_issue", "P1", []),
        ("my account is frozen", "account_locked", "P1", []),
        ("텔레그램으로 가짜 고객센터 DM을 받았어요", "phishing_report", "P3", ["utter_phishing_warning"]),
        ("가짜 사이트에 비밀번호랑 OTP를 입력해 버렸어요", "phishing_report", "P1", []),
        ("我在一个假网站上输入了助记词", "phishing_report", "P1", []),
        ("谷歌验证码一直提示错误", "two_factor_issue", "P3", []),
        ("OTP가 바뀌어 있고 제가 안 한 출금이 있어요", "two_factor_issue", "P1", []),
        ("两步验证被人改了，币被盗了", "two_factor_issue", "P1", []),
    ],
)
async def test_start_case_priority_follows_the_spec(store, text, intent, priority, intro):
    events, messages = await run(ActionStartCase(), tracker([user(text, intent)]))
    assert SlotSet("case_priority", priority) in events
    assert SlotSet("case_urgent", priority == "P1") in events
    assert [m["response"] for m in messages] == intro


async def test_the_phishing_warning_names_the_official_domains(store):
    _, messages = await run(ActionStartCase(), tracker([user("fake site asking me to log in", "phishing_report")]))
    assert messages[0]["official_domains"] == "example-exchange.com, app.example-exchange.com"
    assert messages[0]["support_handles"] == "@ExampleExchangeSupport"


async def test_a_button_press_leaves_the_description_to_the_form(store):
    events, _ = await run(ActionStartCase(), tracker([user("/deposit_missing", "deposit_missing")]))
    assert SlotSet("description", None) in events


async def test_start_case_after_a_help_center_answer_uses_the_question(store):
    t = tracker([user("why is the BTC withdrawal fee so high", "fees_and_limits"), bot("Trading fees ..."),
                 user("no", "deny"), bot("Would you like a human?"), user("yes", "affirm")])  # fmt: skip
    events, messages = await run(ActionStartCase(), t)
    assert SlotSet("description", "why is the BTC withdrawal fee so high") in events
    assert SlotSet("case_priority", "P4") in events
    assert messages == []


# ------------------------------------------------------------------ action_open_case


async def test_p1_open_case_opens_the_case_with_transcript_and_replies_with_security_steps(store):
    DutyRoster(store.engine, idle_minutes=30).on_duty("agent-ann", via="desk")
    events, messages = await run(ActionOpenCase(), fixture("theft_first_message"))
    case = store.latest_case("telegram", "tg:5501:5501")
    assert case is not None
    assert events == [SlotSet("case_id", case.id)]
    assert (case.intent, case.priority, case.status) == ("suspected_theft", 1, "open")
    assert case.details == {"description": "someone hacked my account and withdrew 2 ETH", "coin": "ETH", "amount": "2"}
    assert [(line.role, line.text) for line in store.transcript(case.id)] == [
        ("customer", "hi"),
        ("bot", "Hello, this is exchange support. Tell me what happened and I will help or connect you with an agent."),
        ("customer", "someone hacked my account and withdrew 2 ETH"),
    ]
    assert outbox_events(store, case.id) == ["case_opened"]
    assert [m["response"] for m in messages] == ["utter_security_steps", "utter_queue_place"]
    assert messages[0]["case_id"] == case.id
    assert messages[0]["official_domains"] == "example-exchange.com, app.example-exchange.com"
    assert (messages[1]["place"], messages[1]["wait_minutes"]) == (1, 15)


async def test_open_case_after_the_read_back_gives_id_place_and_wait(store):
    store.open_case(intent="deposit_missing", priority=2, channel="rest", sender_id="other", summary="x", details={})
    t = tracker([user("my withdrawal is stuck", "withdrawal_stuck"), slot("case_intent", "withdrawal_stuck"),
                 slot("case_priority", "P2"), slot("case_family", "funds"), slot("coin", "BTC"),
                 slot("txid", "unknown"), user("yes", "affirm")])  # fmt: skip
    events, messages = await run(ActionOpenCase(), t)
    case = store.active_case("rest", "customer-1")
    assert events == [SlotSet("case_id", case.id)]
    assert (case.priority, case.details) == (2, {"coin": "BTC", "txid": "unknown"})
    assert messages[0]["response"] == "utter_case_opened"
    assert (messages[0]["case_id"], messages[0]["place"], messages[0]["wait_minutes"]) == (case.id, 2, 30)


async def test_the_case_keeps_the_conversations_language(store):
    t = tracker([user("출금이 안 돼요", "withdrawal_stuck"), slot("language", "ko"), slot("case_priority", "P2"),
                 slot("case_intent", "withdrawal_stuck"), user("네", "affirm")])  # fmt: skip
    await run(ActionOpenCase(), t)
    assert store.active_case("rest", "customer-1").language == "ko"
    await run(ActionHandoff(), tracker([user("人工客服", "request_human"), slot("language", "zh")], sender_id="other"))
    assert store.active_case("rest", "other").language == "zh"


async def test_the_case_shows_the_name_the_newest_message_came_with(store):
    named = [{**user(text, "withdrawal_stuck"), "metadata": {"customer_name": name}} for text, name in
             (("my withdrawal is stuck", "Ann"), ("it is BTC", "Ann Lee (@ann_l)"))]  # fmt: skip
    t = tracker([*named, slot("case_intent", "withdrawal_stuck"), slot("case_priority", "P2"), user("yes", "affirm")])
    await run(ActionOpenCase(), t)
    assert store.active_case("rest", "customer-1").details == {"customer_name": "Ann Lee (@ann_l)"}


async def test_confirming_twice_does_not_open_a_second_case(store):
    t = tracker([user("yes", "affirm"), slot("case_intent", "kyc_verification"), slot("case_priority", "P3")])
    first, _ = await run(ActionOpenCase(), t)
    again = tracker([user("yes", "affirm"), slot("case_intent", "kyc_verification"), slot("case_priority", "P3"),
                     slot("case_id", first[0]["value"]), user("yes", "affirm")])  # fmt: skip
    second, _ = await run(ActionOpenCase(), again)
    assert first == second


async def test_a_turn_run_again_before_it_was_saved_opens_no_second_case(store):
    """A crash or a failed action call after the case opened: Rasa saved no case_id, the turn runs again."""
    theft = {**user("someone emptied my account", "suspected_theft", channel="telegram"), "message_id": "tg-9001"}
    turn = tracker([theft, slot("case_intent", "suspected_theft"), slot("case_priority", "P1")], sender_id="tg:5:5")
    first, said_first = await run(ActionOpenCase(), turn)
    again, said_again = await run(ActionOpenCase(), turn)
    assert first == again and said_first == said_again  # the same case id and the same words, none missing
    no_agents = "utter_no_agents_on_duty"  # said once per case, and again by the turn that opened it
    assert [m["response"] for m in said_again] == ["utter_security_steps", "utter_queue_place", no_agents]
    assert outbox_events(store, first[0]["value"]) == ["case_opened"]  # the agents were alerted once
    desk_first = store.open_case(intent="suspected_theft", priority=1, channel="telegram", sender_id="tg:8:8",
                                 summary="x", details={}, opened_by_message="tg-9100")  # fmt: skip
    escalations().once(desk_first.id, NO_AGENT_FLAG, NO_AGENT_FLAG, {})  # the desk told the customer itself
    replayed = tracker([{**theft, "message_id": "tg-9100"}, *turn.events[1:]], sender_id="tg:8:8")
    _, said_after_desk = await run(ActionOpenCase(), replayed)
    assert no_agents not in [m["response"] for m in said_after_desk]  # not a second time
    later = {**theft, "text": "it happened again on another account", "message_id": "tg-9002"}
    fresh = tracker([theft, later, slot("case_intent", "suspected_theft"), slot("case_priority", "P1")],
                    sender_id="tg:5:5")  # fmt: skip
    third, _ = await run(ActionOpenCase(), fresh)
    assert third != first  # a new message without the case in its slots still opens one


async def test_a_case_whose_opening_the_conversation_lost_is_given_to_the_resent_message(store):
    """The call opened the case, then failed (timeout, action server killed): Rasa never learnt the case id,
    the customer was asked to send the message again. The resend gets that case, not a second one."""
    said = {**user("someone emptied my account", "suspected_theft", channel="telegram"), "timestamp": 1.0}
    problem = [slot("case_intent", "suspected_theft"), slot("case_priority", "P1")]
    first, _ = await run(ActionOpenCase(), tracker([{**said, "message_id": "tg-1"}, *problem], sender_id="tg:6:6"))
    resent = {**said, "message_id": "tg-2", "timestamp": 2.0}
    again, _ = await run(ActionOpenCase(), tracker([said, resent, *problem], sender_id="tg:6:6"))
    assert again == first and outbox_events(store, first[0]["value"]) == ["case_opened"]

    named = [said, slot("case_id", first[0]["value"]), slot("case_id", None)]  # a problem before, its case told
    other, _ = await run(ActionOpenCase(), tracker([*named, {**resent, "message_id": "tg-3"}, *problem],
                                                   sender_id="tg:6:6"))  # fmt: skip
    fraud = [slot("case_intent", "fraud_report"), slot("case_priority", "P2")]
    third, _ = await run(ActionOpenCase(), tracker([said, {**resent, "message_id": "tg-4"}, *fraud],
                                                   sender_id="tg:6:6"))  # fmt: skip  another problem: its own
    assert len({first[0]["value"], other[0]["value"], third[0]["value"]}) == 3


# ------------------------------------------------------------------ read-back and corrections


def read_back_tracker(*latest):
    return tracker([
        user("my deposit is missing", "deposit_missing"), slot("case_family", "funds"),
        slot("case_intent", "deposit_missing"), slot("description", "my deposit is missing"),
        slot("account_ref", "48213377"), slot("coin", "USDT"), slot("network", "TRC20"), slot("amount", "150"),
        slot("tx_time", "this morning"), slot("txid", "unknown"), slot("counterparty", "Binance"), *latest,
    ])  # fmt: skip


async def test_read_back_summarises_the_collected_details(store):
    events, messages = await run(ActionReadBack(), read_back_tracker())
    assert events == []
    assert messages[0]["response"] == "utter_read_back_funds"
    assert {k: messages[0][k] for k in ("coin", "network", "amount", "txid", "counterparty", "started_at")} == {
        "coin": "USDT", "network": "TRC20", "amount": "150", "txid": "unknown", "counterparty": "Binance",
        "started_at": "unknown",
    }  # fmt: skip


async def test_a_detail_not_known_reads_unknown_in_the_customers_language(store):
    _, messages = await run(ActionReadBack(), read_back_tracker(slot("language", "ko")))
    assert (messages[0]["txid"], messages[0]["started_at"], messages[0]["coin"]) == ("모름", "모름", "USDT")


async def test_a_read_back_sent_no_domain_says_so_in_the_log(store, caplog):
    """Rasa sends the domain only to actions marked ``send_domain``: losing the mark must not go unseen."""
    dispatcher = CollectingDispatcher()
    await ActionReadBack().run(dispatcher, read_back_tracker(slot("language", "ko")), {})
    assert dispatcher.messages[0]["txid"] == "unknown"  # the English word: the Korean one is in the domain
    assert "send_domain" in caplog.text
    _, messages = await run(ActionReadBack(), read_back_tracker(slot("language", "zh")))
    assert messages[0]["txid"] == "不清楚"


async def test_a_read_back_exists_for_every_family_with_yes_and_no():
    for family in ("theft", "security", "funds", "access", "technical", "general"):
        variations = domain()["responses"][f"utter_read_back_{family}"]
        payloads = [[b["payload"] for b in v["buttons"]] for v in variations]
        assert payloads == [["/affirm", "/deny"]] * 3
    _, messages = await run(ActionReadBack(), tracker([user("kyc", "kyc_verification")]))
    assert messages[0]["response"] == "utter_read_back_general"  # no family yet


async def test_a_labelled_correction_changes_that_detail(store):
    events, messages = await run(ActionApplyCorrection(), read_back_tracker(user("amount 0.3k", "inform")))
    assert events == [SlotSet("amount", "300")]
    assert messages == []


async def test_a_correction_by_entity_is_checked(store):
    t = read_back_tracker(user("it was on bsc", "inform", [entity("network", "bsc")]), slot("network", "bsc"))
    events, _ = await run(ActionApplyCorrection(), t)
    assert events == [SlotSet("network", "BEP20")]


async def test_an_invalid_correction_keeps_the_old_value_and_explains(store):
    t = read_back_tracker(user("txid is 12345", "inform"))
    events, messages = await run(ActionApplyCorrection(), t)
    assert events == [SlotSet("txid", "unknown")]
    assert [m["response"] for m in messages] == ["utter_invalid_txid"]


async def test_an_unclear_correction_is_noted_for_the_agent(store):
    events, messages = await run(ActionApplyCorrection(), read_back_tracker(user("it was my second deposit", "inform")))
    assert events == [SlotSet("description", "my deposit is missing (correction: it was my second deposit)")]
    assert [m["response"] for m in messages] == ["utter_correction_unclear"]


# ------------------------------------------------------------------ handoff


async def test_asking_for_a_human_mid_form_opens_the_case_and_stops_the_form(store):
    t = tracker([user("my deposit is missing", "deposit_missing"), slot("case_intent", "deposit_missing"),
                 slot("case_priority", "P2"), slot("case_family", "funds"), slot("coin", "USDT"),
                 slot("requested_slot", "network"), user("just get me a human", "request_human")],
                active_loop="case_details_form")  # fmt: skip
    events, messages = await run(ActionHandoff(), t)
    case = store.active_case("rest", "customer-1")
    assert (case.intent, case.priority) == ("deposit_missing", 2)
    assert case.details == {"description": "my deposit is missing", "coin": "USDT"}
    assert events == [SlotSet("case_id", case.id), SlotSet("requested_slot", None), ActiveLoop(None)]
    assert [m["response"] for m in messages] == ["utter_handoff", "utter_no_agents_on_duty"]
    assert (messages[0]["case_id"], messages[0]["place"]) == (case.id, 1)
    assert escalations().flags(case.id) == {"no_agent_notice"}, "the desk must not repeat the notice"


async def test_asking_for_a_human_with_no_case_opens_a_p3_case(store):
    events, _ = await run(ActionHandoff(), tracker([user("human please", "request_human")]))
    case = store.active_case("rest", "customer-1")
    assert (case.intent, case.priority) == ("request_human", 3)
    assert events[0] == SlotSet("case_id", case.id)


async def test_asking_for_a_human_after_a_help_center_answer_keeps_the_question(store):
    t = tracker([user("why is the withdrawal fee so high", "fees_and_limits"), bot("Trading fees ..."),
                 user("I want to talk to a person", "request_human")])  # fmt: skip
    await run(ActionHandoff(), t)
    case = store.active_case("rest", "customer-1")
    assert (case.intent, case.priority) == ("request_human", 3)
    assert case.details == {"description": "why is the withdrawal fee so high"}
    assert case.summary == "why is the withdrawal fee so high"


async def test_asking_for_a_human_escalates_an_open_p4_case(store):
    case = store.open_case(intent="fees_and_limits", priority=4, channel="rest", sender_id="customer-1",
                           summary="fees", details={})  # fmt: skip
    events, _ = await run(ActionHandoff(), tracker([slot("case_id", case.id), user("human", "request_human")]))
    assert events[0] == SlotSet("case_id", case.id)
    assert store.get(case.id).priority == 3
    assert store.latest_case("rest", "customer-1").id == case.id


# ------------------------------------------------------------------ ticket status


async def test_status_by_case_id(store):
    case = store.open_case(intent="api_issue", priority=3, channel="telegram", sender_id="tg:5:5",
                           summary="x", details={})  # fmt: skip
    t = tracker([user(f"status of {case.id}", "ticket_status", [entity("case_id", case.id)], channel="telegram")],
                sender_id="tg:5:5")  # fmt: skip
    events, messages = await run(ActionCaseStatus(), t)
    assert events == []
    assert [m["response"] for m in messages] == ["utter_case_status_open", "utter_no_agents_on_duty"]
    assert {k: messages[0][k] for k in ("case_id", "priority", "place", "wait_minutes")} == {
        "case_id": case.id, "priority": "P3", "place": 1, "wait_minutes": 15,
    }  # fmt: skip


@pytest.mark.parametrize(("channel", "sender_id"), [("telegram", "tg:6:6"), ("rest", "tg:5:5")])
async def test_status_of_someone_elses_case_is_not_found(store, channel, sender_id):
    case = store.open_case(intent="suspected_theft", priority=1, channel="telegram", sender_id="tg:5:5",
                           summary="x", details={})  # fmt: skip
    t = tracker([user(f"status of {case.id}", "ticket_status", [entity("case_id", case.id)], channel=channel)],
                sender_id=sender_id)  # fmt: skip
    _, messages = await run(ActionCaseStatus(), t)
    assert [(m["response"], m["case_id"]) for m in messages] == [("utter_case_not_found", case.id)]
    assert all("priority" not in m and "place" not in m for m in messages)


async def test_status_of_an_unknown_case_id(store):
    t = tracker([user("status of cx-7k3m9q?", "ticket_status")])
    _, messages = await run(ActionCaseStatus(), t)
    assert [(m["response"], m["case_id"]) for m in messages] == [("utter_case_not_found", "CX-7K3M9Q")]


async def test_status_without_an_id_uses_the_customers_latest_case_on_this_channel(store):
    mine = store.open_case(intent="kyc_verification", priority=3, channel="telegram", sender_id="tg:1:1",
                           summary="x", details={})  # fmt: skip
    store.claim(mine.id, "agent-ann")
    store.open_case(intent="kyc_verification", priority=3, channel="rest", sender_id="tg:1:1", summary="x", details={})
    t = tracker([user("any news on my ticket?", "ticket_status", channel="telegram")], sender_id="tg:1:1")
    _, messages = await run(ActionCaseStatus(), t)
    assert [(m["response"], m["case_id"]) for m in messages] == [("utter_case_status_claimed", mine.id)]


async def test_status_with_no_case_at_all(store):
    _, messages = await run(ActionCaseStatus(), tracker([user("status?", "ticket_status")]))
    assert [m["response"] for m in messages] == ["utter_no_cases"]


# ------------------------------------------------------------------ cancel


async def test_cancel_cancels_the_open_case_and_clears_the_slots(store):
    case = store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id="customer-1",
                           summary="x", details={})  # fmt: skip
    t = tracker([slot("case_id", case.id), slot("coin", "BTC"), user("cancel", "cancel")],
                active_loop="case_details_form")  # fmt: skip
    events, messages = await run(ActionCancelCase(), t)
    assert store.get(case.id).status == "cancelled"
    assert "case_cancelled" in outbox_events(store, case.id)
    assert [(m["response"], m["case_id"]) for m in messages] == [("utter_case_cancelled", case.id)]
    resets = [SlotSet(name, None) for name in (*DETAIL_SLOTS, *CASE_SLOTS, "requested_slot")]
    assert events == [*resets, ActiveLoop(None)]


async def test_cancel_without_a_case_just_stops(store):
    events, messages = await run(ActionCancelCase(), tracker([user("/cancel", "cancel")]))
    assert [m["response"] for m in messages] == ["utter_cancelled"]
    assert events[-1] == ActiveLoop(None)


async def test_cancel_leaves_a_case_an_agent_already_holds(store):
    case = store.open_case(intent="api_issue", priority=3, channel="rest", sender_id="customer-1",
                           summary="x", details={})  # fmt: skip
    store.claim(case.id, "agent-bo")
    _, messages = await run(ActionCancelCase(), tracker([slot("case_id", case.id), user("cancel", "cancel")]))
    assert store.get(case.id).status == "claimed"
    assert [m["response"] for m in messages] == ["utter_case_in_progress"]


async def test_start_case_ignores_an_amount_that_is_the_account_id(store):
    text = "withdrawal stuck, uid 102938475"
    t = tracker([user(text, "withdrawal_stuck", [
        {"entity": "account_id", "value": "102938475", "start": 22, "end": 31},
        {"entity": "amount", "value": "102938475", "start": 22, "end": 31},
    ])])  # fmt: skip
    events, _ = await run(ActionStartCase(), t)
    assert SlotSet("account_ref", "102938475") in events
    assert not any(e["name"] == "amount" and e["value"] for e in events)


async def test_a_button_that_answers_an_unclear_message_keeps_its_words_and_details(store):
    unclear = user("there is a 0.4 ETH payment i never made", "nlu_fallback", [entity("coin", "ETH")])
    t = tracker([unclear, bot("Did money or access leave your control?"), user("/suspected_theft", "suspected_theft")])
    events, _ = await run(ActionStartCase(), t)
    assert SlotSet("description", "there is a 0.4 ETH payment i never made") in events
    assert SlotSet("coin", "ETH") in events
    assert SlotSet("case_priority", "P1") in events
