"""validate_case_details_form: checklists per family, checked answers, skips, P1 updates."""

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.case_access import case_store, escalations
from bot.actions.families import FAMILY_SLOTS
from bot.actions.form_validation import ValidateCaseDetailsForm
from bot.cases.schema import outbox
from tests.auxil.action_trackers import domain, entity, slot, tracker, user

HASH = "08f86bebb2737f6a6f0fb23c6f5da2cec255404e4fb440034d6608697a8d41be"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'support.db'}")
    case_store.cache_clear()
    escalations.cache_clear()
    yield case_store()
    case_store().engine.dispose()
    case_store.cache_clear()
    escalations.cache_clear()


def funds_case(*answer, requested="txid", filled=()):
    """A withdrawal case in the form: earlier details, then the customer's answer and its slot candidates."""
    history = [
        user("my withdrawal is stuck", "withdrawal_stuck"),
        slot("case_intent", "withdrawal_stuck"),
        slot("case_family", "funds"),
        slot("case_priority", "P2"),
        slot("case_urgent", False),
        slot("description", "my withdrawal is stuck"),
        *[slot(name, value) for name, value in filled],
        slot("requested_slot", requested),
    ]
    return tracker([*history, *answer], active_loop="case_details_form")


async def validate(t):
    dispatcher = CollectingDispatcher()
    events = await ValidateCaseDetailsForm().run(dispatcher, t, domain())
    return events, [m["response"] for m in dispatcher.messages]


async def test_a_valid_txid_is_kept_and_the_next_detail_is_asked():
    t = funds_case(user(HASH, "inform", [entity("txid", HASH)]), slot("txid", HASH), requested="txid",
                   filled=[("account_ref", "48213377"), ("coin", "BTC"), ("network", "Bitcoin"), ("amount", "0.5"),
                           ("tx_time", "yesterday")])  # fmt: skip
    events, responses = await validate(t)
    assert events == [SlotSet("txid", HASH), SlotSet("requested_slot", "counterparty")]
    assert responses == []


async def test_an_invalid_txid_is_asked_again_with_help():
    t = funds_case(user("it is abc123", "inform"), slot("txid", "it is abc123"), requested="txid")
    events, responses = await validate(t)
    assert events == [SlotSet("txid", None), SlotSet("requested_slot", "account_ref")]
    assert responses == ["utter_invalid_txid"]


async def test_coin_names_become_symbols_and_amounts_numbers():
    t = funds_case(
        user("about 1,200 tether", "inform", [entity("coin", "tether"), entity("amount", "1,200")]),
        slot("coin", "tether"),
        slot("amount", "1,200"),
        requested="coin",
        filled=[("account_ref", "48213377")],
    )
    events, _ = await validate(t)
    assert events == [SlotSet("coin", "USDT"), SlotSet("amount", "1200"), SlotSet("requested_slot", "network")]


async def test_an_unreadable_amount_is_asked_again():
    t = funds_case(user("a lot", "inform"), slot("amount", "a lot"), requested="amount",
                   filled=[("account_ref", "48213377"), ("coin", "BTC"), ("network", "Bitcoin")])  # fmt: skip
    events, responses = await validate(t)
    assert events == [SlotSet("amount", None), SlotSet("requested_slot", "amount")]
    assert responses == ["utter_invalid_amount"]


async def test_an_email_is_checked_and_account_ids_accepted():
    bad = funds_case(user("minji@gmail", "inform"), slot("account_ref", "minji@gmail"), requested="account_ref")
    events, responses = await validate(bad)
    assert events == [SlotSet("account_ref", None), SlotSet("requested_slot", "account_ref")]
    assert responses == ["utter_invalid_email"]
    good = funds_case(user("uid 48213377", "inform", [entity("account_id", "48213377")]),
                      slot("account_ref", "48213377"), requested="account_ref")  # fmt: skip
    events, responses = await validate(good)
    assert events == [SlotSet("account_ref", "48213377"), SlotSet("requested_slot", "coin")]
    assert responses == []


async def test_i_dont_know_skips_a_detail():
    t = funds_case(user("I don't know", "inform"), slot("txid", "I don't know"), requested="txid",
                   filled=[("account_ref", "48213377"), ("coin", "BTC"), ("network", "Bitcoin"), ("amount", "0.5"),
                           ("tx_time", "yesterday"), ("counterparty", "Binance")])  # fmt: skip
    events, responses = await validate(t)
    assert events == [SlotSet("txid", "unknown"), SlotSet("requested_slot", None)]
    assert responses == []


async def test_a_correction_during_the_form_overwrites_a_filled_detail():
    t = funds_case(
        user("sorry, it was 0.3 not 0.5", "inform", [entity("amount", "0.3")]),
        slot("amount", "0.3"),
        requested="tx_time",
        filled=[("account_ref", "48213377"), ("coin", "BTC"), ("network", "Bitcoin"), ("amount", "0.5")],
    )
    events, _ = await validate(t)
    assert events == [SlotSet("amount", "0.3"), SlotSet("requested_slot", "tx_time")]


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("funds", ["description", "account_ref", "coin", "network", "amount", "tx_time", "txid", "counterparty"]),
        ("theft", ["description", "account_ref", "coin", "amount", "recent_security_change",
                   "new_device_or_network", "links_clicked"]),
        ("security", ["description", "account_ref", "started_at", "recent_security_change",
                      "new_device_or_network", "links_clicked"]),
        ("access", ["description", "account_ref", "error_text", "device", "app_or_browser_version",
                    "recent_security_change", "new_device_or_network"]),
        ("technical", ["description", "account_ref", "error_text", "where", "device", "os",
                       "app_or_browser_version"]),
        ("general", ["description", "account_ref", "started_at"]),
    ],
)  # fmt: skip
async def test_required_slots_depend_on_the_family(family, expected):
    t = tracker([user("x", "inform"), slot("case_family", family)])
    slots = await ValidateCaseDetailsForm().required_slots([], CollectingDispatcher(), t, domain())
    assert slots == expected == list(FAMILY_SLOTS[family])
    assert set(slots) <= set(domain()["forms"]["case_details_form"]["required_slots"])
    for name in slots:
        assert f"utter_ask_{name}" in domain()["responses"]


async def test_a_technical_case_asks_for_the_error_after_the_account():
    t = tracker(
        [user("the app crashes", "app_technical"), slot("case_family", "technical"),
         slot("description", "the app crashes"), slot("requested_slot", "account_ref"),
         user("a@b.io", "inform", [entity("email", "a@b.io")]), slot("account_ref", "a@b.io")],
        active_loop="case_details_form",
    )  # fmt: skip
    events, _ = await validate(t)
    assert events == [SlotSet("account_ref", "a@b.io"), SlotSet("requested_slot", "error_text")]


async def test_details_of_an_open_p1_case_are_attached_at_once(store):
    case = store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id="customer-1",
                           summary="hacked", details={"description": "hacked"})  # fmt: skip
    t = tracker(
        [user("my account got hacked", "suspected_theft"), slot("case_family", "theft"), slot("case_urgent", True),
         slot("case_id", case.id), slot("description", "hacked"), slot("requested_slot", "account_ref"),
         user("it's 5566778899", "inform", [entity("account_id", "5566778899")]), slot("account_ref", "5566778899")],
        active_loop="case_details_form",
    )  # fmt: skip
    events, _ = await validate(t)
    assert events == [SlotSet("account_ref", "5566778899"), SlotSet("requested_slot", "coin")]
    assert store.get(case.id).details == {"description": "hacked", "account_ref": "5566778899"}
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event, outbox.c.payload).where(outbox.c.case_id == case.id)).all()
    assert [(r.event, r.payload) for r in rows] == [
        ("case_opened", {"priority": 1, "intent": "suspected_theft"}),
        ("case_updated", {"details": {"account_ref": "5566778899"}}),
    ]


async def test_a_rejected_answer_is_not_attached_to_the_p1_case(store):
    case = store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id="customer-1",
                           summary="hacked", details={})  # fmt: skip
    t = tracker(
        [user("hacked", "suspected_theft"), slot("case_family", "theft"), slot("case_id", case.id),
         slot("description", "hacked"), slot("account_ref", "48213377"), slot("requested_slot", "coin"),
         user("the one with a dog", "inform"), slot("coin", "the one with a dog")],
        active_loop="case_details_form",
    )  # fmt: skip
    events, responses = await validate(t)
    assert events == [SlotSet("coin", None), SlotSet("requested_slot", "coin")]
    assert responses == ["utter_invalid_coin"]
    assert store.get(case.id).details == {}


async def test_an_account_id_also_tagged_as_an_amount_does_not_overwrite_the_amount():
    uid = "102938475"
    t = funds_case(
        user(f"my uid is {uid}", "inform", [
            {"entity": "account_id", "value": uid, "start": 10, "end": 19, "extractor": "RegexEntityExtractor"},
            {"entity": "amount", "value": uid, "start": 10, "end": 19, "extractor": "DIETClassifier"},
        ]),
        slot("account_ref", uid),
        slot("amount", uid),
        requested="account_ref",
        filled=[("coin", "BTC"), ("amount", "0.5")],
    )  # fmt: skip
    events, responses = await validate(t)
    assert sorted(events, key=lambda e: e["name"]) == [
        SlotSet("account_ref", uid), SlotSet("amount", "0.5"), SlotSet("requested_slot", "network"),
    ]  # fmt: skip
    assert responses == []


async def test_a_correction_is_not_taken_as_the_answer_to_the_current_question():
    text = "actually it was 0.7 BTC"
    t = funds_case(
        user(text, "inform", [entity("amount", "0.7"), entity("coin", "BTC")]),
        slot("coin", "BTC"),
        slot("amount", "0.7"),
        slot("tx_time", text),
        requested="tx_time",
        filled=[("account_ref", "48213377"), ("coin", "BTC"), ("network", "Bitcoin"), ("amount", "0.5")],
    )
    events, responses = await validate(t)
    assert sorted(events, key=lambda e: e["name"]) == [
        SlotSet("amount", "0.7"),
        SlotSet("coin", "BTC"),
        SlotSet("requested_slot", "tx_time"),
        SlotSet("tx_time", None),
    ]
    assert responses == []
