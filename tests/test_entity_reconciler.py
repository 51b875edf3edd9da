"""The reconciler keeps one entity per piece of text and never an account id as an amount."""

from bot.nlu_components.entity_reconciler import reconciled


def entity(name, value, start, end, extractor):
    return {"entity": name, "value": value, "start": start, "end": end, "extractor": extractor}


def test_a_coin_found_by_both_extractors_is_reported_once_with_the_rule_based_value():
    text_crf = entity("coin", "usdt", 4, 8, "CRFEntityExtractor")
    text_regex = entity("coin", "USDT", 4, 8, "RegexEntityExtractor")
    assert reconciled([text_crf, text_regex]) == [text_regex]


def test_a_network_word_inside_a_longer_network_name_is_dropped():
    whole = entity("network", "Lightning", 10, 27, "RegexEntityExtractor")
    part = entity("network", "network", 20, 27, "CRFEntityExtractor")
    assert reconciled([part, whole]) == [whole]


def test_an_account_id_tagged_as_an_amount_is_only_an_account_id():
    amount = entity("amount", "48213377", 10, 18, "CRFEntityExtractor")
    account = entity("account_id", "48213377", 10, 18, "RegexEntityExtractor")
    assert reconciled([amount, account]) == [account]


def test_the_same_coin_said_twice_in_a_message_stays_twice():
    first = entity("coin", "USDT", 0, 4, "RegexEntityExtractor")
    second = entity("coin", "USDT", 30, 34, "RegexEntityExtractor")
    amount = entity("amount", "980", 25, 28, "CRFEntityExtractor")
    assert reconciled([second, amount, first]) == [first, amount, second]


def test_a_coin_inside_a_network_name_is_part_of_the_network():
    usdc = entity("coin", "USDC", 4, 12, "RegexEntityExtractor")
    network = entity("network", "BEP20", 16, 31, "RegexEntityExtractor")
    bnb_in_network = entity("coin", "BNB", 16, 19, "RegexEntityExtractor")
    assert reconciled([usdc, bnb_in_network, network]) == [usdc, network]
