"""What the support account may say in public: X's weighted length and personal data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from connectors.twitter.public import (
    ACCOUNT_ID,
    EMAIL,
    MAX_WEIGHTED_LENGTH,
    PHONE,
    TXID,
    WALLET_ADDRESS,
    fit,
    personal_data,
    weighted_length,
    without_handles,
)
from connectors.twitter.settings import XCredentials, XSettings

LINK = "https://twitter.com/messages/compose?recipient_id=1234567890123456789"
PUBLIC_RESPONSES = (
    "utter_x_public_reply",
    "utter_x_public_reply_p1",
    "utter_x_public_leak_warning",
    "utter_x_public_leak_warning_p1",
)


def test_weighted_length_counts_urls_as_23_and_cjk_as_2() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length(f"DM us {LINK}") == 6 + 23
    assert weighted_length("你好") == 4
    assert weighted_length("café") == 4
    assert weighted_length("see example.com") == 4 + 23


def test_fit_keeps_the_link_whole_within_280() -> None:
    long = "Please " + "really " * 60 + f"send us a DM: {LINK}"
    fitted = fit(long)
    assert weighted_length(fitted) <= MAX_WEIGHTED_LENGTH
    assert fitted.endswith(LINK) and fitted.startswith("Please really")
    short = f"Thanks! DM us: {LINK}"
    assert fit(short) == short


def test_fit_counts_weighted_characters_not_code_points() -> None:
    fitted = fit("请" * 200 + " " + "联系" * 20 + f" {LINK}")
    assert weighted_length(fitted) <= MAX_WEIGHTED_LENGTH and LINK in fitted


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("reach me at bob.smith+x@mail.example.com", EMAIL),
        ("call me +1 415 555 0100 please", PHONE),
        ("txid 4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b stuck", TXID),
        ("sent to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", WALLET_ADDRESS),
        ("to 0x52908400098527886E0F7030069857D2E4169EE7 yesterday", WALLET_ADDRESS),
        ("my UID: 88123456 is locked", ACCOUNT_ID),
    ],
)
def test_personal_data_is_found(text: str, kind: str) -> None:
    assert kind in personal_data(text)


def test_ordinary_posts_have_no_personal_data() -> None:
    assert personal_data("@ExampleSupport my withdrawal of 0.5 BTC is stuck since 2 hours, help!") == ()


def test_without_handles() -> None:
    assert without_handles("@ExampleSupport @bob my deposit is missing") == "my deposit is missing"


def test_every_public_response_fits_with_the_link() -> None:
    """Texts from the test domain and, where defined, the real one: short, with the DM link."""
    responses = yaml.safe_load((Path(__file__).parent / "data" / "x_domain.yml").read_text())["responses"]
    real = PROJECT_ROOT / "bot" / "domain.yml"
    if real.exists():
        responses.update((yaml.safe_load(real.read_text()) or {}).get("responses") or {})
    link = XSettings(XCredentials("", "", "", "", ""), account_id="1234567890123456789", account_handle="").dm_link
    for name in PUBLIC_RESPONSES:
        for variation in responses[name]:
            text = variation["text"].format(dm_link=link)
            assert weighted_length(text) <= MAX_WEIGHTED_LENGTH, name
            assert link in text, name
