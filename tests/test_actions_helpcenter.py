"""Answers from the help center in the dialogue, against the shipped articles, the real search and a real case store.

The search is the one the action server builds (BM25 fused with the NLU's embeddings, passage
vectors from the on-disk cache); links point to a base URL set for the test.
"""

import logging

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.case_access import case_store, escalations
from bot.actions.families import CASE_SLOTS, DETAIL_SLOTS, HELP_SLOTS
from bot.actions.help_access import help_search, helpful_articles
from bot.actions.help_answer import ActionAnswerFromHelpCenter
from bot.actions.help_solved import ActionHelpSolved
from bot.actions.open_case import ActionOpenCase
from bot.actions.start_case import ActionStartCase
from bot.helpcenter.library import read_library
from bot.helpcenter.settings import DEFAULT_DIRECTORY, HelpCenterSettings
from tests.auxil.action_trackers import bot, domain, slot, tracker, user
from tests.auxil.helpcenter import copied_help_center, write_later

BASE = "https://help.example/center"
LIBRARY = read_library(HelpCenterSettings())


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'support.db'}")
    monkeypatch.setenv("HELPCENTER_BASE_URL", BASE)
    monkeypatch.setenv("HELPCENTER_DIR", str(DEFAULT_DIRECTORY))
    for factory in (case_store, escalations, help_search, helpful_articles):
        factory.cache_clear()
    yield case_store()
    case_store().engine.dispose()
    for factory in (case_store, escalations, help_search, helpful_articles):
        factory.cache_clear()


async def run(action, t):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, domain())
    return events, dispatcher.messages


def responses(messages):
    return [m["response"] for m in messages]


def answered(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


# ------------------------------------------------------------------ the answer


async def test_a_fee_question_gets_the_best_articles_short_answer_and_link_and_up_to_two_more(store):
    t = tracker([user("how much is the withdrawal fee for BTC", "fees_and_limits")])
    events, messages = await run(ActionAnswerFromHelpCenter(), t)
    best = LIBRARY.get("en", "withdrawal-fees")
    assert responses(messages) == ["utter_help_center_answer", "utter_help_center_related"]
    assert (messages[0]["summary"], messages[0]["title"]) == (best.summary, best.title)
    assert messages[0]["url"] == f"{BASE}/en/withdrawal-fees"
    related = messages[1]["links"].splitlines()
    assert 1 <= len(related) <= 2 and all(f": {BASE}/en/" in line for line in related)
    shown = ["withdrawal-fees", *(line.rsplit("/", 1)[1] for line in related)]
    assert answered(events) == {"help_found": True, "help_article": "withdrawal-fees", "help_articles": shown}


@pytest.mark.parametrize(
    ("language", "question"),
    [("ko", "출금 수수료가 얼마예요? 최소 출금 금액도 알려주세요"), ("zh", "提现手续费是多少？最低提现金额呢？")],
)
async def test_the_answer_is_in_the_customers_language(store, language, question):
    t = tracker([slot("language", language), user(question, "fees_and_limits")])
    events, messages = await run(ActionAnswerFromHelpCenter(), t)
    assert messages[0]["summary"] == LIBRARY.get(language, "withdrawal-fees").summary
    assert messages[0]["url"] == f"{BASE}/{language}/withdrawal-fees"
    assert all(f"{BASE}/{language}/" in line for line in messages[1]["links"].splitlines())
    assert answered(events)["help_article"] == "withdrawal-fees"


async def test_a_problem_chosen_by_button_is_searched_by_the_words_before_it(store):
    t = tracker([user("i forgot my password and can't get in", "nlu_fallback"), bot("Which is closest?"),
                 user("/login_failure", "login_failure")])  # fmt: skip
    events, _ = await run(ActionAnswerFromHelpCenter(), t)
    assert answered(events)["help_article"] == "password-reset"


async def test_a_search_answers_its_words(store):
    events, messages = await run(ActionAnswerFromHelpCenter(), tracker([user("memo tag", "search_help_center")]))
    assert messages[0]["url"] == f"{BASE}/en/missing-memo"
    assert answered(events)["help_found"] is True


async def test_a_search_without_words_explains_how_to_search(store):
    events, messages = await run(ActionAnswerFromHelpCenter(), tracker([user("/search", "search_help_center")]))
    assert responses(messages) == ["utter_search_usage"]
    assert answered(events) == {"help_found": False, "help_article": None, "help_articles": []}


async def test_nothing_found_is_said_so_and_a_problem_goes_on_to_its_details(store):
    events, messages = await run(ActionAnswerFromHelpCenter(), tracker([user("asdf qwer zxcv", "search_help_center")]))
    assert responses(messages) == ["utter_help_center_nothing_found"]
    assert answered(events)["help_found"] is False
    events, messages = await run(ActionAnswerFromHelpCenter(), tracker([user("asdf qwer zxcv", "login_failure")]))
    assert responses(messages) == ["utter_help_center_no_article"]
    assert answered(events)["help_found"] is False


async def test_a_question_during_the_form_is_answered_and_no_article_is_recorded_for_its_case(store):
    t = tracker(
        [user("my USDT withdrawal is stuck", "withdrawal_stuck"), slot("case_intent", "withdrawal_stuck"),
         user("what is the minimum withdrawal for USDT", "fees_and_limits")],
        active_loop="case_details_form",
    )  # fmt: skip
    events, messages = await run(ActionAnswerFromHelpCenter(), t)
    assert messages[0]["url"] == f"{BASE}/en/withdrawal-fees"
    assert events == [SlotSet("help_found", True)]


async def test_articles_shown_earlier_in_the_matter_stay_in_the_tried_list(store):
    t = tracker([slot("help_articles", ["password-reset"]), user("the reset email never arrives", "login_failure")])
    events, _ = await run(ActionAnswerFromHelpCenter(), t)
    tried = answered(events)["help_articles"]
    assert tried[:2] == ["password-reset", "reset-email-missing"] and len(tried) == len(set(tried))


async def test_an_unreadable_help_center_answers_without_an_article_and_says_why_in_the_log(
    store, tmp_path, monkeypatch, caplog
):
    settings = copied_help_center(tmp_path)
    write_later(settings.facts_file, "fees: [unclosed\n")
    monkeypatch.setenv("HELPCENTER_DIR", str(settings.directory))
    help_search.cache_clear()
    with caplog.at_level(logging.ERROR, logger="bot.actions.help_answer"):
        events, messages = await run(ActionAnswerFromHelpCenter(), tracker([user("withdrawal fee", "fees_and_limits")]))
    assert responses(messages) == ["utter_help_center_no_article"]
    assert answered(events)["help_found"] is False
    assert "help-center search failed" in caplog.text


# ------------------------------------------------------------------ "Did this solve it?"


async def test_yes_records_the_article_as_helpful_and_closes_the_matter(store):
    t = tracker([slot("language", "ko"), user("출금 수수료가 얼마예요?", "fees_and_limits"),
                 slot("case_intent", "fees_and_limits"), slot("help_found", True),
                 slot("help_article", "withdrawal-fees"), slot("help_articles", ["withdrawal-fees", "trading-fees"]),
                 user("네", "affirm")])  # fmt: skip
    events, messages = await run(ActionHelpSolved(), t)
    assert helpful_articles().counts() == {("withdrawal-fees", "ko"): 1}
    assert responses(messages) == ["utter_glad_to_help"]
    assert events == [SlotSet(name, None) for name in (*DETAIL_SLOTS, *CASE_SLOTS, *HELP_SLOTS)]
    assert store.latest_case("rest", "customer-1") is None, "a solved question opens no case"


async def test_no_keeps_what_was_said_and_the_case_lists_the_articles_tried(store):
    said = user("my authenticator codes are always rejected", "two_factor_issue")
    started, _ = await run(ActionStartCase(), tracker([said]))
    answered_events, _ = await run(ActionAnswerFromHelpCenter(), tracker([said, *started]))
    tried = answered(answered_events)["help_articles"]
    assert tried[0] == "2fa-code-rejected"
    later = [user("no", "deny"), slot("account_ref", "minji@example.com"), slot("error_text", "invalid code"),
             user("yes", "affirm")]  # fmt: skip
    await run(ActionOpenCase(), tracker([said, *started, *answered_events, *later]))
    case = store.latest_case("rest", "customer-1")
    assert (case.intent, case.priority) == ("two_factor_issue", 3)
    assert case.details == {
        "description": "my authenticator codes are always rejected",
        "account_ref": "minji@example.com",
        "error_text": "invalid code",
        "articles_tried": tried,
    }
    assert helpful_articles().counts() == {}


async def test_a_search_that_did_not_solve_it_becomes_a_case_described_by_its_words(store):
    said = user("memo tag", "search_help_center")
    started, messages = await run(ActionStartCase(), tracker([said]))
    assert messages == []
    assert SlotSet("description", "memo tag") in started
    assert SlotSet("case_intent", "search_help_center") in started
    assert SlotSet("case_priority", "P3") in started and SlotSet("case_family", "general") in started
