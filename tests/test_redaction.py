"""Redaction with real secrets: BIP-39 seed phrases, private keys, OTP codes, cards."""

from __future__ import annotations

import random
import string
import time

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
    redact_file_name,
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
        ("google authenticator shows 120 944", "120 944"),
        ("my 2fa code is 123 456", "123 456"),
        ("OTP: 123-456 keeps failing", "123-456"),
    ],
)
def test_otp_codes_next_to_code_words_are_redacted(text, code):
    result = redact(text)
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


@pytest.mark.parametrize(
    "text,secret",
    [
        ("API SECRET: 7fG9kL2mN4pQ6rS8tU0vW", "7fG9kL2mN4pQ6rS8tU0vW"),
        ("Secret Key: Zx8Cv7Bn6Mm5Ll4Kk3Jj2", "Zx8Cv7Bn6Mm5Ll4Kk3Jj2"),
        (f"apiSecret={HEX64}", HEX64),
    ],
)
def test_api_secrets_are_found_whatever_the_case_of_the_label(text, secret):
    result = redact(text)
    assert API_SECRET in result.kinds
    assert secret not in result.text


def _seed_words_with_slips(*positions: int) -> list[str]:
    words = SEED_12.split()
    for i in positions:  # one letter dropped from each chosen word ("amount" -> "amont")
        words[i] = words[i][:2] + words[i][3:]
    return words


@pytest.mark.parametrize(
    "written",
    [
        " \u2022 ".join(SEED_12.split()),
        " | ".join(SEED_12.split()),
        "/".join(SEED_12.split()),
        " and ".join(SEED_12.split()),
        "\n".join(SEED_12.split()),
        "\n".join(f"{i}. {w}" for i, w in enumerate(SEED_12.split(), 1)),
        " ".join(f"{i}) {w}" for i, w in enumerate(SEED_12.split(), 1)),
        SEED_12.upper(),
        " ".join(_seed_words_with_slips(2, 7)),
        ", ".join(_seed_words_with_slips(0, 11)),
    ],
    ids=[
        "bullets",
        "bars",
        "slashes",
        "and",
        "lines",
        "numbered lines",
        "numbered",
        "upper case",
        "two typos",
        "typos at both ends",
    ],
)
def test_seed_phrases_are_found_however_they_are_written(written):
    result = redact(f"my wallet words: {written} -- is it safe?")
    assert SEED_PHRASE in result.kinds
    assert not set(written.lower().split()) & set(result.text.lower().split()) - {"and"}
    assert result.text.startswith("my ") and result.text.endswith(" -- is it safe?")


def test_three_slips_in_twelve_words_are_not_a_seed_phrase():
    words = _seed_words_with_slips(2, 5, 9)
    assert SEED_PHRASE not in redact(" ".join(words)).kinds


@pytest.mark.parametrize(
    "text,secret",
    [
        ("my password hunter2", "hunter2"),
        ("password Tr0ub4dor&3 does not work", "Tr0ub4dor&3"),
        ("my password for binance is Hunter2!", "Hunter2!"),
    ],
)
def test_passwords_without_is_or_colon(text, secret):
    result = redact(text)
    assert PASSWORD in result.kinds
    assert secret not in result.text


def test_card_number_written_with_dots():
    result = redact("card 4111.1111.1111.1111 was charged twice")
    assert CARD_NUMBER in result.kinds
    assert result.text == f"card {REDACTED} was charged twice"


def test_txid_right_after_its_label_stays_even_when_key_was_said_earlier():
    text = f"the key question is where it went, txid {HEX64}"
    assert redact(text).text == text


def test_digits_inside_an_eth_address_are_not_a_card():
    address = "0xab4111111111111111cdef0123456789abcdef01"  # "4111111111111111" passes the Luhn check
    text = f"I sent it to {address} yesterday"
    assert redact(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        "code stopped working in 2024",
        "my sms code never arrives since 2023",
        "I sent 2500 usdt and 0.5 btc, code 1234 is my sub-account",
        "order 5000000000000009 is still pending",  # Luhn-valid order id
        "error code 10054 when I open the app",
        "the deposit is at block height 840000, code says pending",
        "deposit on 2024-05-01 at 12:30, verification pending",
        "since 05/01/2024 the verification code never comes",
        "sent to 0x8dbe60c80089144e2f597813c19808bb0d46cb1f an hour ago",
        f"txid: {HEX64}",
        f"tx hash {TXID_0X} shows confirmed",
        "my password is not working",
        "my password manager filled the wrong password",
        "my passcode wasn't accepted",
        "I don't know what my password is.",
        "can you help me abandon this order and refund the amount",
        "never noticed this fee until now, can you please explain that again",  # twelve list words
    ],
)
def test_ordinary_support_sentences_are_kept_whole(text):
    result = redact(text)
    assert result.kinds == () and result.text == text


@pytest.mark.parametrize(
    "name,kept",
    [
        ("pw_password_Tr0ub4dor&3.pdf", "pw_password_[REDACTED].pdf"),  # a label inside what follows a label
        ("api_secret=sk_live_51Habc9Kz2LmQ.txt", "api_secret=[REDACTED].txt"),
        ("_".join(SEED_12.split()) + ".JPG", "[REDACTED].JPG"),
        (f"{HEX64}.png", "[REDACTED].png"),
        ("statement_2024_05.pdf", "statement_2024_05.pdf"),
    ],
)
def test_file_names_are_read_with_underscores_as_spaces_and_keep_their_extension(name, kept):
    assert redact_file_name(name).text == kept


def test_a_long_message_redacts_in_linear_time():
    """A complexity guard, not a benchmark: 10,000+ characters of words the seed check must look up."""
    rng = random.Random(12)
    filler = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(900)]
    list_words = rng.sample(Mnemonic("english").wordlist, 600)
    parts = [*filler, *(f"code {rng.randint(1000, 99999999)}" for _ in range(150)), *list_words]
    rng.shuffle(parts)
    text = f"{' '.join(parts)} password: hunter2 {SEED_12}"
    assert 10_000 < len(text) < 15_000
    redact("warm the word lists up")
    started = time.process_time()  # this process's CPU: other work on the machine does not count
    result = redact(text)
    assert time.process_time() - started < 1.0
    assert SEED_PHRASE in result.kinds and PASSWORD in result.kinds


SOLANA_KEY = "4Z7cXSyeFR8wNGMVXUE1TwtKn5D5Vu7FzEv69dokLv7KrQk7h6pu4LF8ZRR9yQBhc7uSM6RTTZtU1fmaxiNrxXrs"
TXID_B58 = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
KEYPAIR = "[" + ",".join(str((i * 37) % 256) for i in range(64)) + "]"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yFUgF+ihpO9RSzv4oxVHg7TxEOuoAoGCCqGSM49\n"
    "AwEHoUQDQgAE8xOUetsCa8EfOlDEBAfREhJqspDoyEh6Szz2in47Tv5n52m9dLYy\n-----END EC PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    "text,secret",
    [
        (f"my phantom private key {SOLANA_KEY}", SOLANA_KEY),
        (f"keypair: {KEYPAIR}", KEYPAIR[1:20]),
        (f"PRIVATE KEY 0X{HEX64.upper()}", HEX64.upper()),
        (f"my seed {HEX64}", HEX64),  # a key, not an unlabelled hash: the customer must move funds
        ("KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn is my wif", "KwDiBf89QgGbjEhKnhXJuH7Lrci"),
        (f"here it is {PEM}", "MHcCAQEEIBkg4LVWM9"),
        ('{"apiKey": "abc", "secretKey": "Zx8Cv7Bn6Mm5Ll4Kk3Jj2"}', "Zx8Cv7Bn6Mm5Ll4Kk3Jj2"),
        ("my 2fa setup key is JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
        ("otpauth://totp/Binance:alice?secret=JBSWY3DPEHPK3PXP&issuer=Binance", "JBSWY3DPEHPK3PXP"),
        ("password -> Hunter2!", "Hunter2!"),
        ("my password was changed to Hunter2! by someone", "Hunter2!"),
        ("my pass is Hunter22", "Hunter22"),
        ("비밀번호: hunter2", "hunter2"),
        ("비번 hunter22", "hunter22"),
        ("密码是hunter2", "hunter2"),
        ("the code is 12 34 56", "12 34 56"),
        ("verification code 1 2 3 4 5 6", "1 2 3 4 5 6"),
        ("인증번호 482913 입니다", "482913"),
        ("验证码482913", "482913"),
        ("card 4111 1111 1111 1111 exp 12/26 cvv 123", "cvv 123"),
        ("amex 3782 822463 10005", "822463"),
    ],
)
def test_secret_formats_found_on_a_second_look(text, secret):
    result = redact(text)
    assert result.found_secret, result
    assert secret not in result.text


def _seed(language: str) -> str:
    return Mnemonic(language).to_mnemonic(bytes(range(16)))


@pytest.mark.parametrize(
    "written",
    [
        " ".join(w[:4] for w in SEED_12.split()),  # the four letters a steel plate keeps
        _seed("korean"),
        _seed("chinese_simplified"),
        _seed("spanish"),
        "[" + ",".join(f'"{w}"' for w in SEED_12.split()) + "]",
        " ".join(f"{i}-{w}" for i, w in enumerate(SEED_12.split(), 1)),
        " ".join(f"{i}\ufe0f\u20e3 {w}" for i, w in enumerate(SEED_12.split(), 1)),  # keycap digits
        ", ".join(f"word {i}: {w}" for i, w in enumerate(SEED_12.split(), 1)),
        " ".join(
            f"{i}{'st' if i == 1 else 'nd' if i == 2 else 'rd' if i == 3 else 'th'} {w}"
            for i, w in enumerate(SEED_12.split(), 1)
        ),
        " ".join(w[:-1] if i in (2, 8, 14, 20) else w for i, w in enumerate(SEED_24.split())),  # 4 typos in 24
    ],
    ids=[
        "abbreviated",
        "korean",
        "chinese",
        "spanish",
        "json",
        "dashes",
        "keycaps",
        "labelled",
        "ordinals",
        "24 words 4 typos",
    ],
)
def test_seed_phrases_found_on_a_second_look(written):
    result = redact(written)
    assert result.kinds == (SEED_PHRASE,)
    assert len(result.text) < 20, result.text


@pytest.mark.parametrize(
    "text",
    [
        "I sent 1500 USDT on TRC20 to TXyzAbcDeFgHiJkLmNoPqRsTuVwXyZ1234, still not arrived",
        "My BTC address is bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        f"solana tx signature {TXID_B58}",
        "I changed my phone in 2023 and lost google authenticator",
        "I was born 1999, 2fa code fails",
        "ticket 20240512 about my verification",
        "2FA reset request #20240512 still open",
        "my account uid is 88123456 and my 2fa is lost",
        "I deposited 10000 KRW via bank, verification pending",
        "since block 840000 my deposit is pending, the code shows 2 confirmations",
        "Phone: +82 10 1234 5678, verification sms never comes",
        "My phone number is 010-1234-5678 and I don't get the verification code",
        "call me at 415 555 2671 about the code",
        "Date of birth 1990-05-12 for KYC verification",
        "the otp expires after 30 seconds",
        "price was 65000 usd when the code failed",
        "Auth code page shows version 2.4.1",
        "IBAN DE89370400440532013000 for the withdrawal",
        "my password is 8 characters long",
        "the pass is valid until Friday",
        "pass KYC2024 today please",
        "my password was reset to default",
        "my password contains special characters like @ and #",
        "secret santa gift card",
        "the api key permissions page shows an error",
        "비밀번호 변경했는데 로그인이 안돼요",
        "출금이 안돼요 인증번호 안와요",
        "我的提现还没到账, 验证码收不到",
        "please check my account balance because the deposit amount never arrived after the transfer",
        "my seed phrase is safe, I never shared it",
    ],
)
def test_innocent_sentences_kept_on_a_second_look(text):
    result = redact(text)
    assert result.kinds == () and result.text == text


@pytest.mark.parametrize(
    "text,secret",
    [
        ("password - hunter2hunter2", "hunter2hunter2"),
        ("passwort: Sommer2024!", "Sommer2024!"),
        ("Passwort ist Sommer2024!", "Sommer2024!"),
        ("mot de passe : Soleil#2023", "Soleil#2023"),
        ("contraseña: Perro_Azul99", "Perro_Azul99"),
        ("senha: Brasil@123456", "Brasil@123456"),
        ("пароль: Moskva2024!", "Moskva2024!"),
        ("şifre: Ankara1923!", "Ankara1923!"),
        ("mật khẩu: Hanoi2024!", "Hanoi2024!"),
        ("my login is bob@mail.com / Zx9!kLm22", "Zx9!kLm22"),
        ("the pwd i use everywhere is 'Dragon$$99'", "Dragon$$99"),
        ("here's my password in case you need it: Fluffy2020", "Fluffy2020"),
        ("password: correct horse battery staple", "horse battery staple"),
    ],
)
def test_passwords_in_other_languages_pairs_and_phrasings(text, secret):
    result = redact(text)
    assert result.kinds == (PASSWORD,), result
    assert secret not in result.text


@pytest.mark.parametrize(
    "text,secret",
    [
        ("the code they sent me is 839201", "839201"),
        ("Código de verificación 482913", "482913"),
        ("otp482913", "482913"),
        ("security code on the back is 123", "123"),
    ],
)
def test_codes_further_from_their_label_or_glued_to_it(text, secret):
    result = redact(text)
    assert result.found_secret, result
    assert secret not in result.text


@pytest.mark.parametrize(
    "text,secret,kind",
    [
        ("my 2fa backup code is JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP", API_SECRET),
        ("my google authenticator key is JBSW Y3DP EHPK 3PXP", "EHPK 3PXP", API_SECRET),
        (
            "api key=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "vmPUZE6mv9SD5VNHk4HlWFsOr",
            API_SECRET,
        ),
        (
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A\n" + "Nhq" * 20 + "P1e3",
            "Nhq" * 20,
            API_SECRET,
        ),
        ("my api private key is Q1w2E3r4T5y6U7i8O9p0AsDf", "Q1w2E3r4T5y6U7i8O9p0AsDf", PRIVATE_KEY),
        (
            "Private Key: kQH5HW/8p1uJ2CkD5v2B7U4eQf7d0h4j2gJxwF3Jk9e8oM2d3b1HfOq8gXxjW3lXr0ZC2v7E0X8pQ1n0vYbKZQ==",
            "kQH5HW/8p1",
            PRIVATE_KEY,
        ),
        ("ETH key: " + "ab" * 31, "ab" * 31, PRIVATE_KEY),  # two digits short of a key
        ("private key " + "ab" * 16 + "\n" + "cd" * 16, "cd" * 16, PRIVATE_KEY),  # one key over two lines
    ],
)
def test_api_secrets_and_keys_in_real_phrasing(text, secret, kind):
    result = redact(text)
    assert kind in result.kinds, result
    assert secret not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "passwort vergessen, bitte helfen",
        "mein Passwort ist falsch",
        "mot de passe oublié, que faire ?",
        "olvidé mi contraseña de la cuenta",
        "esqueci minha senha do app",
        "не могу сменить пароль, помогите",
        "tôi quên mật khẩu",
        "my password - does it expire?",
        "password-protected PDF attached",
        "the pwd I use everywhere is probably leaked now",
        "here's my password problem in short: it never works",
        "my login is bob@mail.com / can you check it",
        "git@github.com:org/repo.git",
        "password: not working since yesterday",
        "the code they sent me never arrived",
        "the code they sent me is wrong",
        "I have 2 BTC and 3 ETH",
        "order 839201 is stuck",
        "the code never came but order 839201 is stuck",
        "I entered the code and my balance is 1500",
        "error code10054 when I log in",
        "cvv for the card ending 1234 was declined",
        "the public key is 02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc",
        "key question: why is my deposit pending for 3 hours",
        "he said the 2fa backup code is somewhere in my email",
        "I wrote my recovery phrase on paper, where should I keep it?",
    ],
)
def test_innocent_sentences_kept_next_to_the_wider_rules(text):
    result = redact(text)
    assert result.kinds == () and result.text == text


@pytest.mark.parametrize(
    "label",
    [
        "secret",
        "api secret",
        "secret key",
        "api key",
        "private key",
        "2fa backup code",
        "security code",
        "code",
        "password",
        "passwort",
        "mot de passe",
        "pw",
        "bob@mail.com",
        "seed",
    ],
)
def test_a_label_before_a_long_gap_redacts_in_linear_time(label):
    """A complexity guard, not a benchmark: a label then 10,000 spaces took 3-7 s while gaps were unbounded."""
    redact("warm the word lists up")
    for gap in (" ", "\t", "\n", " - ", ": ", " is ", "_"):
        text = label + gap * (10_000 // len(gap)) + "!"
        started = time.process_time()
        redact(text)
        assert time.process_time() - started < 0.5, repr(gap)


@pytest.mark.parametrize("unit", ["pw:", "secret=", "password ", "key: ", "otp ", "bob@x.co / ", "legal "])
def test_a_label_repeated_for_10000_characters_redacts_in_linear_time(unit):
    """A complexity guard: each label's secret runs to the end of the text, and is read once, not once a label."""
    redact("warm the word lists up")
    text = unit * (10_000 // len(unit) + 1)
    started = time.process_time()
    redact(text)
    redact_file_name(text)
    assert time.process_time() - started < 1.0
