"""The detail checks behind the form and corrections (pure functions, no Rasa)."""

import pytest

from bot.actions.details import (
    UNKNOWN,
    check_account_ref,
    check_amount,
    check_coin,
    check_detail,
    check_network,
    check_text,
    check_txid,
    is_skip,
)

HASH = "a4c123b1612dd272d1371c17149d439536b3216fdaeeb975729fae923d5a4fd1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HASH, HASH),
        (f"txid: {HASH}", HASH),
        (f"0x{HASH}", f"0x{HASH}"),
        (f"https://etherscan.io/tx/0x{HASH}.", f"https://etherscan.io/tx/0x{HASH}"),
        (f"https://mempool.space/tx/{HASH}", f"https://mempool.space/tx/{HASH}"),
        ("I don't know the txid", UNKNOWN),
    ],
)
def test_txid_accepts_hashes_links_and_unknown(text, expected):
    assert check_txid(text).value == expected


@pytest.mark.parametrize("text", ["abc123", HASH[:63], "[REDACTED]", "it was yesterday"])
def test_txid_rejects_other_text_with_a_helpful_reask(text):
    checked = check_txid(text)
    assert checked.value is None
    assert checked.problem == "utter_invalid_txid"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("bitcoin", "BTC"), ("BTC", "BTC"), ("it was ethereum", "ETH"), ("usdt", "USDT"), ("tether", "USDT"),
     ("some shiba inu", "SHIB"), ("floki", "FLOKI"), ("no idea", UNKNOWN)],
)  # fmt: skip
def test_coin_is_normalised_to_its_symbol(text, expected):
    assert check_coin(text).value == expected


def test_coin_rejects_a_sentence_without_a_coin():
    assert check_coin("the one with the dog logo").problem == "utter_invalid_coin"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5", "0.5"), ("1,200", "1200"), ("1.2k", "1200"), ("2,500,000 KRW", "2500000"), ("about 3 BTC", "3"),
     ("0,75", "0.75"), ("skip", UNKNOWN)],
)  # fmt: skip
def test_amount_is_a_positive_number(text, expected):
    assert check_amount(text).value == expected


@pytest.mark.parametrize("text", ["a lot", "0", "everything I had"])
def test_amount_rejects_non_numbers(text):
    assert check_amount(text).problem == "utter_invalid_amount"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("minji.lee92@gmail.com", "minji.lee92@gmail.com"), ("my email is a.b+c@mail.co.kr.", "a.b+c@mail.co.kr"),
     ("48213377", "48213377"), ("uid 1029 38475", "102938475"), ("not sure", UNKNOWN)],
)  # fmt: skip
def test_account_ref_is_an_email_or_an_account_id(text, expected):
    assert check_account_ref(text).value == expected


def test_account_ref_checks_the_email_format():
    assert check_account_ref("minji@gmail").problem == "utter_invalid_email"
    assert check_account_ref("my name is Minji").problem == "utter_invalid_account_ref"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("trc-20", "TRC20"), ("BSC", "BEP20"), ("on the erc20 network", "ERC20"), ("Arbitrum One", "Arbitrum"),
     ("some chain", "some chain"), ("idk", UNKNOWN)],
)  # fmt: skip
def test_network_names_are_normalised(text, expected):
    assert check_network(text).value == expected


@pytest.mark.parametrize(
    "text", ["I don't know", "i dont know the txid", "not sure", "no idea", "skip", "Skip this one", "idk", "dunno"]
)
def test_skip_phrases(text):
    assert is_skip(text)
    assert check_text(text).value == UNKNOWN


@pytest.mark.parametrize("text", ["not sure, maybe yesterday at 9pm", "I don't know why it fails on iPhone 13"])
def test_an_answer_that_starts_unsure_is_kept(text):
    assert not is_skip(text)
    assert check_detail("started_at", text).value == text
