"""The P1 safety net decides from the classifier's ranking alone: no model needed."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu_components.p1_safety_net import P1SafetyNet


def net(ask=0.2, route=1.01):
    return P1SafetyNet({**P1SafetyNet.get_default_config(), "ask_threshold": ask, "route_threshold": route})


def ranking(**confidences):
    return [{"name": n, "confidence": c} for n, c in sorted(confidences.items(), key=lambda kv: -kv[1])]


def parsed(intent, safety_net=None, **confidences):
    message = Message(data={"text": "x", "intent": {"name": intent, "confidence": max(confidences.values())},
                            "intent_ranking": ranking(**confidences)})
    return (safety_net or net()).process([message])[0]


def test_a_likely_theft_filed_elsewhere_becomes_a_question():
    message = parsed("fees_and_limits", fees_and_limits=0.55, suspected_theft=0.2, account_locked=0.1)
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("p1_check") == {"p1_intent": "suspected_theft", "p1_mass": 0.3,
                                       "otherwise": "fees_and_limits", "replaced_intent": "fees_and_limits"}
    assert message.get("intent_ranking")[1]["name"] == "fees_and_limits"  # the shadowed intent stays second
    assert "p1_check" in message.as_dict(only_output_properties=True)


def test_a_confident_p1_is_routed_directly():
    message = parsed("suspected_theft", suspected_theft=0.8, account_locked=0.1)
    assert message.get("intent")["name"] == "suspected_theft" and message.get("p1_check") is None


def test_an_unsure_p1_is_asked_and_no_leads_to_the_issue_types():
    check = net().decide({"name": "nlu_fallback"}, [{"name": "nlu_fallback", "confidence": 0.35},
                                                   *ranking(account_locked=0.3, kyc_verification=0.28)])
    assert check["p1_intent"] == "account_locked" and check["otherwise"] == "nlu_fallback"


def test_little_p1_probability_changes_nothing():
    message = parsed("deposit_missing", deposit_missing=0.8, suspected_theft=0.1, withdrawal_stuck=0.1)
    assert message.get("intent")["name"] == "deposit_missing" and message.get("p1_check") is None


def test_replies_to_the_bots_own_questions_are_not_asked_again():
    assert net().decide({"name": "deny"}, ranking(deny=0.5, suspected_theft=0.4)) is None


def test_a_p1_probability_past_the_route_threshold_is_routed_as_p1_without_asking():
    message = parsed("login_failure", net(ask=0.02, route=0.1), login_failure=0.86, account_locked=0.12)
    assert message.get("intent") == {"name": "account_locked", "confidence": 0.12}
    assert message.get("p1_route")["replaced_intent"] == "login_failure"
    assert message.get("p1_check") is None


def test_between_the_thresholds_the_question_is_asked():
    message = parsed("login_failure", net(ask=0.02, route=0.1), login_failure=0.95, account_locked=0.05)
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("p1_check")["otherwise"] == "login_failure"
