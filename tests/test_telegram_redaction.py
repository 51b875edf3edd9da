"""Secrets are out of a Telegram update before the inbox stores it; what the worker needs stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic
from sqlalchemy import select
from telegram import MessageEntity, Update

from bot.cases.database import make_engine
from bot.cases.redaction import PASSWORD, REDACTED, SEED_PHRASE
from connectors.telegram.redaction import REDACTED_KEY, redact_update, redacted_kinds
from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import telegram_updates
from tests.auxil.fake_telegram import group_message, private_message

SEED = Mnemonic("english").to_mnemonic(bytes(range(32, 48)))
TXID = "ab" * 32
CHAT = 6161


def test_text_is_redacted_and_the_rest_of_the_update_kept() -> None:
    raw = {"update_id": 1, "message": private_message(CHAT, f"my seed is {SEED}, is it safe")}
    stored = redact_update(raw)
    assert stored["message"]["text"] == f"my seed is {REDACTED}, is it safe"
    assert stored[REDACTED_KEY] == [SEED_PHRASE]
    assert {k: v for k, v in stored["message"].items() if k != "text"} == {
        k: v for k, v in raw["message"].items() if k != "text"
    }
    assert raw["message"]["text"].endswith(f"{SEED}, is it safe"), "the caller's update is not changed"


def test_captions_file_names_and_quoted_messages_are_redacted() -> None:
    quoted = private_message(CHAT, f"earlier: {SEED}", message_id=1)
    message = private_message(
        CHAT,
        message_id=2,
        caption="password: Hunter2!",
        document={"file_id": "d", "file_unique_id": "ud", "file_name": "pw_password_Tr0ub4dor&3.pdf"},
        reply_to_message=quoted,
        quote={"text": SEED, "position": 9},
    )
    stored = json.dumps(redact_update({"update_id": 2, "message": message}))
    for secret in ("Hunter2!", "Tr0ub4dor&3", *SEED.split()[1:4]):
        assert secret not in stored
    assert '"file_name": "pw_password_[REDACTED].pdf"' in stored


def test_file_names_joined_by_dashes_or_labelled_in_other_languages_are_redacted() -> None:
    for name in ("pwd-Dragon99x.pdf", "passwort_Sommer2024!.pdf"):
        document = {"file_id": "d", "file_unique_id": "ud", "file_name": name}
        stored = redact_update({"update_id": 7, "message": private_message(CHAT, document=document)})
        assert stored["message"]["document"]["file_name"].endswith(f"{REDACTED}.pdf"), name
        assert stored[REDACTED_KEY] == [PASSWORD]


def test_a_start_payload_is_never_kept_as_a_txid() -> None:
    """A deep-link payload reaches Rasa as metadata, past the gate: it is read as a file name is."""
    for payload, kept, kinds in ((TXID, REDACTED, None), ("pw_Hunter2x9Q", f"pw_{REDACTED}", [PASSWORD])):
        stored = redact_update({"update_id": 8, "message": private_message(CHAT, f"/start {payload}")})
        assert stored["message"]["text"] == f"/start {kept}"
        assert stored.get(REDACTED_KEY) == kinds, "a bare hash is nothing to rotate or to ask about again"
    other = redact_update({"update_id": 9, "message": private_message(CHAT, f"/status {TXID}")})
    assert other["message"]["text"] == f"/status {TXID}", "after another command it stays for the gate"


def test_nothing_to_redact_leaves_the_update_as_it_was() -> None:
    raw = {"update_id": 3, "message": private_message(CHAT, f"txid {TXID}, deposit of 0.5 btc missing")}
    assert redact_update(raw) == raw


def test_a_bare_hash_stays_for_the_gate_but_not_in_a_file_name() -> None:
    """Only the gate knows whether the bot asked for a txid; a file name is never an answer."""
    message = private_message(CHAT, TXID, document={"file_id": "d", "file_unique_id": "ud", "file_name": f"{TXID}.png"})
    stored = redact_update({"update_id": 4, "message": message})
    assert stored["message"]["text"] == TXID
    assert stored["message"]["document"]["file_name"] == f"{REDACTED}.png"
    assert REDACTED_KEY not in stored, "nothing the customer must rotate"


def test_entities_follow_the_redacted_text_in_utf16_units() -> None:
    """A mention after a secret still points at the mention; one over the secret is dropped."""
    text = "\U0001f600 password: hunter2xyz @ExampleSupportBot help"
    mention = "@ExampleSupportBot"
    utf16_offset = len(text[: text.index(mention)].encode("utf-16-le")) // 2
    entities = [
        {"type": "mention", "offset": utf16_offset, "length": len(mention)},
        {"type": "code", "offset": 13, "length": 10},  # over "hunter2xyz"
        {"type": "bold", "offset": 0, "length": 2},  # the emoji, before the secret
    ]
    stored = redact_update({"update_id": 5, "message": group_message(-100, 7, text, entities=entities)})
    update = Update.de_json(stored, None)
    assert update is not None and update.message is not None
    assert update.message.text == f"\U0001f600 password: {REDACTED} @ExampleSupportBot help"
    parsed = update.message.parse_entities()
    assert sorted((e.type, value) for e, value in parsed.items()) == [
        (MessageEntity.BOLD, "\U0001f600"),
        (MessageEntity.MENTION, mention),
    ]


MENTION = "@ExampleSupportBot"
PIECES = ["hi", "\U0001f600", "password: Hunter2!", MENTION, "\ud55c\uad6d", SEED, "ok"]  # an emoji is 2 UTF-16 units


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_mentions_keep_pointing_at_the_mention_whatever_was_redacted(pieces: list[str]) -> None:
    text = " ".join(pieces)
    entities, offset = [], 0
    for piece in pieces:
        if piece == MENTION:
            entities.append({"type": "mention", "offset": offset, "length": len(MENTION)})
        offset += len(f"{piece} ".encode("utf-16-le")) // 2
    stored = redact_update({"update_id": 9, "message": group_message(-100, 7, text, entities=entities)})
    update = Update.de_json(stored, None)
    assert update is not None and update.message is not None
    assert list(update.message.parse_entities().values()) == [MENTION] * pieces.count(MENTION)


def test_the_handler_reads_what_was_taken_out_from_the_stored_update() -> None:
    stored = redact_update({"update_id": 6, "message": private_message(CHAT, "my password hunter2 fails")})
    update = Update.de_json(json.loads(json.dumps(stored)), None)
    assert update is not None and redacted_kinds(update) == (PASSWORD,)


async def test_the_inbox_row_never_holds_the_secret(sqlite_url: str, tmp_path: Path) -> None:
    """Stored, not yet processed (the worker is not running): the row in the database is redacted."""
    settings = TelegramSettings.from_env(
        {"TELEGRAM_BOT_TOKEN": "1:TOKEN", "TELEGRAM_ATTACHMENT_DIR": str(tmp_path / "attachments")}
    )
    engine = make_engine(sqlite_url)
    runtime = TelegramRuntime.create(settings, engine)
    document = {"file_id": "d", "file_unique_id": "ud", "file_name": f"{'_'.join(SEED.split())}.pdf"}
    updates: list[dict[str, Any]] = [
        {"update_id": 10, "message": private_message(CHAT, f"/start {SEED}")},
        {"update_id": 11, "message": private_message(CHAT, message_id=2, caption=SEED, document=document)},
        {"update_id": 12, "edited_message": private_message(CHAT, f"seed: {SEED}", message_id=3)},
    ]
    for raw in updates:
        assert await runtime.receive(raw)
    with engine.connect() as conn:
        rows = conn.execute(select(telegram_updates.c.update_id, telegram_updates.c.payload)).all()
    engine.dispose()
    assert [row.update_id for row in rows] == [10, 11, 12]
    for row in rows:
        stored = json.dumps(row.payload)
        assert not any(word in stored for word in SEED.split()[1:]), stored
        assert row.payload[REDACTED_KEY] == [SEED_PHRASE]
    assert rows[0].payload["message"]["text"] == f"/start {REDACTED}"
    assert rows[0].payload["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
