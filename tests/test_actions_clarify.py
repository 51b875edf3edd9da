"""action_clarify_issue: the P1 question when the safety net flagged the message, else the issue types."""

from rasa_sdk.executor import CollectingDispatcher

from bot.actions.clarify import ActionClarifyIssue
from tests.auxil.action_trackers import domain, tracker, user


async def clarify(latest):
    dispatcher = CollectingDispatcher()
    events = await ActionClarifyIssue().run(dispatcher, tracker([latest]), domain())
    return events, dispatcher.messages


def flagged(text, p1_intent, otherwise):
    event = user(text, "nlu_fallback")
    event["parse_data"]["p1_check"] = {"p1_intent": p1_intent, "p1_mass": 0.31, "otherwise": otherwise,
                                       "replaced_intent": otherwise}
    return event


async def test_a_flagged_message_gets_the_p1_question_with_yes_and_no_routes():
    events, messages = await clarify(flagged("a card payment i never made", "suspected_theft", "fees_and_limits"))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_ask_p1_check"]
    assert messages[0]["p1_intent"] == "suspected_theft"
    assert messages[0]["otherwise"] == "fees_and_limits"


async def test_an_unflagged_unclear_message_gets_the_issue_type_buttons():
    _, messages = await clarify(user("the thing with the stuff", "nlu_fallback"))
    assert [m["response"] for m in messages] == ["utter_ask_issue_type"]


def test_the_p1_question_routes_its_buttons_through_the_template_variables():
    for response in domain()["responses"]["utter_ask_p1_check"]:  # in every language
        assert [b["payload"] for b in response["buttons"]] == ["/{p1_intent}", "/{otherwise}"]
