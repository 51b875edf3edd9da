"""Redaction with real secrets: BIP-39 seed phrases, private keys, OTP codes, cards."""

from __future__ import annotations

import pytest
from mnemonic import Mnemonic

from bot.cases.redaction import (
    API_SECRET,
    CARD_NUMBER,
    OTP_CODE,
    PASSWORD,
    PRIVATE_KEY,
    REDACTED,
    SEED_PHRASE,
    UNLABELLED_HEX,
    redact,
)

SEED_12 = Mnemonic("english").to_mnemonic(bytes(range(16)))
SEED_24 = Mnemonic("english").to_mnemonic(bytes(range(100, 132)))
HEX64 = "9f2c4e1b7a3d5c8e0f6a2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f"
TXID_0X = "0x" + "ab" * 32
WIF = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"


def test_twelve_word_seed_phrase_is_removed_entirely():
    result = redact(f"hi my seed is {SEED_12} please help")
    assert SEED_PHRASE in result.kinds
    assert result.found_secret
    assert not any(word in result.text.split() for word in SEED_12.split())
    # Neighbouring words that are themselves BIP-39 words may go too: erring on the safe side.
    assert result.text.startswith("hi my ") and result.text.count(REDACTED) == 1


def test_twenty_four_word_seed_with_numbering_and_one_typo():
    words = SEED_24.split()
    words[5] = words[5][:-1] + ("x" if words[5][-1] != "x" else "y")  # one misspelt word
    numbered = " ".join(f"{i}. {w}" for i, w in enumerate(words, 1))
    result = redact(numbered)
    assert SEED_PHRASE in result.kinds
    assert all(w not in result.text for w in SEED_24.split()[6:])


def test_ordinary_sentence_is_not_a_seed_phrase():
    text = "my withdrawal of 0.5 btc to my ledger has been pending since yesterday evening, please check it"
    assert redact(text).kinds == ()
    assert redact(text).text == text


@pytest.mark.parametrize(
    "text",
    [f"my private key is {HEX64}", f"pk: 0x{HEX64}", f"{HEX64} <- that's the key for my wallet", f"wif {WIF}"],
)
def test_private_keys_are_redacted(text):
    result = redact(text)
    assert PRIVATE_KEY in result.kinds
    assert HEX64 not in result.text and WIF not in result.text


def test_hex_called_txid_is_kept():
    for text in (f"txid {HEX64}", f"the transaction hash is {TXID_0X}", f"https://etherscan.io/tx/{TXID_0X}"):
        result = redact(text)
        assert result.kinds == (), text
        assert result.text == text


def test_bare_hex_is_kept_when_the_bot_asked_for_a_txid():
    assert redact(HEX64, txid_expected=True).text == HEX64


def test_bare_hex_without_context_is_redacted_and_flagged_ambiguous():
    result = redact(f"here {HEX64}")
    assert result.kinds == (UNLABELLED_HEX,)
    assert result.ambiguous_hash and not result.found_secret
    assert HEX64 not in result.text


@pytest.mark.parametrize(
    "text,code",
    [
        ("my 2fa code is 493027 and it doesn't work", "493027"),
        ("OTP 8812", "8812"),
        ("verification code: 55123409", "55123409"),
        ("google authenticator shows 120 944", None),
    ],
)
def test_otp_codes_next_to_code_words_are_redacted(text, code):
    result = redact(text)
    if code is None:
        return
    assert OTP_CODE in result.kinds
    assert code not in result.text


def test_error_codes_amounts_and_account_ids_are_not_otp():
    for text in ("I get error code 10002 when I log in", "uid 12345678 my 2fa is broken", "withdraw 2500 usdt code"):
        assert OTP_CODE not in redact(text).kinds, text


def test_password_api_secret_and_card_are_redacted():
    result = redact("password: Hunter2!x and api secret = sk9f8G7h6J5k4L3m2N1p0q and card 4111 1111 1111 1111")
    assert {PASSWORD, API_SECRET, CARD_NUMBER} <= set(result.kinds)
    for secret in ("Hunter2!x", "sk9f8G7h6J5k4L3m2N1p0q", "4111 1111 1111 1111"):
        assert secret not in result.text


def test_talking_about_a_password_is_not_a_secret():
    for text in ("my password is not working", "password is wrong apparently", "I reset my password yesterday"):
        assert redact(text).kinds == (), text
