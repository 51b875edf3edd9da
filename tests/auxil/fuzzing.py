"""Hypothesis strategies for hostile input: malformed, oversized, wrongly typed, platform-shaped.

Shared by the fuzz tests of every HTTP entry point. Each strategy mixes junk with payloads
shaped like the real platform's, so examples get past the first check and reach the parsing.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    database=None,
)

HOSTILE_TEXTS = [
    "",
    " ",
    "\x00",
    "\u202e",  # right-to-left override
    "A" * 20_000,
    "'; DROP TABLE cases; --",
    "<script>alert(1)</script>",
    "{{7*7}} ${jndi:ldap://x}",
    "../../etc/passwd",
    "tg:1:1",
    "rest:AAAAAAAAAAAAAAAAAAAAAA",
    "/start " + "x" * 5000,
    "💸" * 1000,
    "%s%s%n",
    "null",
    "9" * 400,
]

texts = st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(max_size=300))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    texts,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(st.integers(min_value=-(2**64), max_value=2**64), texts, st.none(), st.floats(allow_nan=False))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, or a wrongly typed one in its place."""
    return st.one_of(strategy, json_values)


ABSENT = object()


def _without_absent(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not ABSENT}


def optional_fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict where each field may be missing, present, or wrongly typed."""
    return st.fixed_dictionaries(
        {name: st.one_of(st.just(ABSENT), maybe(strategy)) for name, strategy in fields.items()}
    ).map(_without_absent)


telegram_users = optional_fields(id=ids, is_bot=st.booleans(), first_name=texts, username=texts)
telegram_chats = optional_fields(
    id=st.one_of(st.integers(min_value=-(2**52), max_value=2**52), ids),
    type=st.sampled_from(["private", "group", "supergroup", "channel"]),
)
telegram_messages = optional_fields(
    message_id=ids,
    date=ids,
    chat=telegram_chats,
    text=texts,
    caption=texts,
    entities=st.lists(optional_fields(type=texts, offset=ids, length=ids), max_size=3),
    photo=st.lists(optional_fields(file_id=texts, file_unique_id=texts, width=ids, height=ids), max_size=2),
    document=optional_fields(file_id=texts, file_unique_id=texts, file_name=texts, file_size=ids),
    reply_to_message=optional_fields(message_id=ids, text=texts),
    **{"from": telegram_users},
)
telegram_updates = st.one_of(
    json_values,
    optional_fields(
        update_id=st.one_of(st.integers(min_value=1, max_value=2**31), ids),
        message=telegram_messages,
        edited_message=telegram_messages,
        callback_query=optional_fields(id=texts, data=texts, message=telegram_messages, **{"from": telegram_users}),
    ),
)


def bodies(structured: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Raw request bodies: the structured payload as JSON, or bytes that are not JSON at all."""
    return st.one_of(
        structured.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=512),
        st.sampled_from([b"", b"{", b"[]", b"null", b'{"a":' * 500, b"\xff\xfe", b"{" * 10_000]),
    )


x_users = optional_fields(id_str=ids, screen_name=texts)
x_deliveries = st.one_of(
    json_values,
    optional_fields(
        for_user_id=st.one_of(st.just("1000"), ids),
        tweet_create_events=st.lists(
            optional_fields(
                id_str=st.one_of(st.integers(min_value=1, max_value=2**63).map(str), ids),
                text=texts,
                user=x_users,
                extended_tweet=optional_fields(full_text=texts),
                in_reply_to_status_id_str=ids,
                retweeted_status=optional_fields(id_str=ids),
            ),
            max_size=3,
        ),
        direct_message_events=st.lists(
            optional_fields(
                type=st.sampled_from(["message_create", "other"]),
                id=st.one_of(st.integers(min_value=1, max_value=2**63).map(str), ids),
                message_create=optional_fields(
                    sender_id=ids, target=optional_fields(recipient_id=ids), message_data=optional_fields(text=texts)
                ),
            ),
            max_size=3,
        ),
    ),
)
