"""Account Activity webhook pieces: CRC token, signature check, delivery parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors.twitter.webhook import crc_response, crc_token_valid, parse_delivery, signature_valid

SECRET = "consumer-secret"


def expected(message: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def test_crc_response_is_hmac_of_the_token() -> None:
    assert crc_response(SECRET, "abc") == {"response_token": expected(b"abc")}


@pytest.mark.parametrize("token", ["abc", "A" * 128, "aGVsbG8+/w==", "url-safe_token"])
def test_tokens_shaped_like_x_challenges_are_answered(token: str) -> None:
    assert crc_token_valid(token) and crc_response(SECRET, token)["response_token"] == expected(token.encode())


@pytest.mark.parametrize(
    "token",
    ['{"for_user_id":"1000","direct_message_events":[]}', "", "A" * 129, "two words", "ü", "a\nb", "tok;en"],
)
def test_nothing_else_is_signed(token: str) -> None:
    # A JSON body signed through the CRC endpoint would be a forged delivery X never sent.
    assert not crc_token_valid(token)
    with pytest.raises(ValueError, match="crc_token"):
        crc_response(SECRET, token)


def test_signature_must_match_the_raw_body() -> None:
    body = b'{"for_user_id":"1000"}'
    assert signature_valid(SECRET, body, expected(body))
    assert not signature_valid(SECRET, body + b" ", expected(body))
    assert not signature_valid(SECRET, body, None)
    assert not signature_valid(SECRET, body, "sha256=")
    assert not signature_valid("other", body, expected(body))


def test_delivery_for_another_account_is_ignored() -> None:
    delivery = parse_delivery({"for_user_id": "999", "tweet_create_events": [{"id_str": "1"}]}, "1000")
    assert delivery.mentions == () and delivery.dm_events == ()


def test_retweet_and_extended_text() -> None:
    delivery = parse_delivery(
        {
            "for_user_id": "1000",
            "tweet_create_events": [
                {
                    "id_str": "5",
                    "text": "short…",
                    "extended_tweet": {"full_text": "@ExampleSupport the whole text"},
                    "user": {"id_str": "7", "screen_name": "dan"},
                    "retweeted_status": {"id_str": "4"},
                }
            ],
        },
        "1000",
    )
    (mention,) = delivery.mentions
    assert mention.text == "@ExampleSupport the whole text" and mention.is_retweet and mention.author_id == "7"


@pytest.mark.parametrize(
    "payload",
    [
        {"direct_message_events": [{"type": "message_create"}]},
        {"tweet_create_events": [{"text": "no id"}]},
        {"tweet_create_events": "not a list of objects"},
        {"tweet_create_events": [{"id_str": "12ab"}]},
        {"direct_message_events": [{"type": "message_create", "id": "x1", "message_create": {"sender_id": "7"}}]},
        {"direct_message_events": [{"type": "message_create", "id": "8", "message_create": {"sender_id": "u\x007"}}]},
        {"tweet_create_events": [{"id_str": "5", "user": {"id_str": "7" * 300}}]},
        {"tweet_create_events": [{"id_str": "5", "user": {"id_str": "7"}, "in_reply_to_status_id_str": "4 OR 1"}]},
        {"tweet_create_events": [{"id_str": "5"}]},
    ],
)
def test_malformed_delivery_raises_value_error(payload: dict) -> None:
    with pytest.raises(ValueError, match="Account Activity"):
        parse_delivery(payload, "1000")
