"""Erasing one customer leaves nothing of them in any table of the database, and nothing of anyone else goes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

from bot.cases.audit import AuditLog
from bot.cases.customer_links import LINK, CustomerLinks
from bot.cases.database import make_engine
from bot.cases.deliveries import DeliveryLedger
from bot.cases.escalations import Escalations
from bot.cases.instances import Instance
from bot.cases.store import CaseStore, TranscriptLine
from bot.lifecycle.erase import ERASED, NothingStored, UnknownCustomer, erase_customer
from bot.lifecycle.salt import customer_hash, erasure_salt
from bot.runtime.tracker_store import DatabaseUrlTrackerStore
from bot.settings import PROJECT_ROOT
from connectors.rest.conversations import RestConversations
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.storage import Inbox, Outbox
from connectors.twitter.inbox import XInbox
from connectors.twitter.sender import DmEvent
from connectors.twitter.state import DM, THREAD, XState

SALT = "test-salt"
GROUP_CHAT = -100777
CASE_TABLES = {"cases", "case_messages", "attachments", "outbox", "deliveries", "alert_messages", "case_flags"}
CHANNEL_TABLES = {
    "telegram": {"telegram_updates", "telegram_replies"},
    "twitter": {"x_inbox", "x_processed", "x_choices"},
    "rest": {"rest_mailbox", "rest_conversations"},
}


@dataclass(frozen=True)
class Customer:
    key: str  # what the operator types after --customer
    channel: str
    tokens: tuple[str, ...]  # what of them may be found in the database: ids, words, case ids, file names


def tables_holding(engine: Engine, tokens: tuple[str, ...]) -> set[str]:
    """Every table of the database (reflected, Rasa's included) with a value that contains one of ``tokens``."""
    metadata = MetaData()
    metadata.reflect(engine)
    found = set()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                text = " ".join(v if isinstance(v, str) else json.dumps(v, default=str) for v in row)
                if any(token in text for token in tokens):
                    found.add(table.name)
    return found


class World:
    """A database with customers on each channel, made through the real stores."""

    def __init__(self, engine: Engine, database_url: str, files: Path) -> None:
        self.engine = engine
        self.store = CaseStore(engine)
        self.audit = AuditLog(engine)
        self.ledger = DeliveryLedger(engine)
        self.escalations = Escalations(engine)
        instance = Instance(engine, "test")
        self.inbox, self.replies = Inbox(engine, instance), Outbox(engine, instance)
        self.x_inbox, self.x_state = XInbox(engine), XState(engine)
        self.rest, self.mailbox = RestConversations(engine), RestMailbox(engine)
        self.tracker = DatabaseUrlTrackerStore(Domain.empty(), host=database_url)
        self.files = files
        self.next_update = 1000

    async def case(self, channel: str, sender: str, words: str) -> tuple[str, int]:
        """A case with transcript, attachment file, alert, flag, audit line and deliveries, and Rasa's tracker."""
        case = self.store.open_case(
            intent="withdrawal_missing",
            priority=2,
            channel=channel,
            sender_id=sender,
            summary=f"withdrawal stuck: {words}",
            details={"note": words},
            transcript=[TranscriptLine("customer", f"hello, {words}")],
        )
        line = self.store.record_message(case.id, TranscriptLine("agent", f"looking at {words}", author="alice"))
        path = self.files / case.id / f"{words}.jpg"  # as the Telegram channel keeps them
        path.parent.mkdir()
        path.write_bytes(b"jpeg")
        self.store.add_attachment(
            case.id, kind="photo", name=f"{words}.jpg", mime_type="image/jpeg", size=4, stored_path=str(path)
        )
        self.store.claim(case.id, "alice")
        self.escalations.once(case.id, "p1_realert", "case_realerted", {"text": words})
        self.ledger.plan(["telegram_group", "desk"])
        self.next_update += 1
        self.ledger.remember_alert_message(case.id, chat_id=-100999, message_id=self.next_update)
        self.audit.record(actor="alice", via="desk", action="claim", case_id=case.id, detail={"said": words})
        await self.tracker.save(DialogueStateTracker.from_events(sender, [UserUttered(f"my words {words}")]))
        return case.id, line

    def update(self, chat: int, user: int, words: str) -> int:
        self.next_update += 1
        message = {"message_id": 1, "from": {"id": user}, "chat": {"id": chat}, "text": words}
        self.inbox.store(self.next_update, str(chat), {"update_id": self.next_update, "message": message})
        return self.next_update

    async def telegram_customer(self, user: int, words: str) -> Customer:
        private = f"tg:{user}:{user}"
        case_id, line = await self.case("telegram", private, words)
        update = self.update(user, user, words)
        self.replies.add(user, update, [{"text": f"bot answer about {words}"}], first_seq=0)
        self.replies.add(user, None, [{"text": f"agent answer about {words}"}], origin="agent", reference=str(line))
        group_update = self.update(GROUP_CHAT, user, f"in the group: {words}")
        self.replies.add(GROUP_CHAT, group_update, [{"text": f"group answer about {words}"}], first_seq=0)
        await self.tracker.save(
            DialogueStateTracker.from_events(f"tg:{GROUP_CHAT}:{user}", [UserUttered(f"group words {words}")])
        )
        return Customer(f"tg:{user}", "telegram", (str(user), words, case_id))

    async def x_customer(self, user: str, words: str) -> Customer:
        key = f"x:{user}"
        case_id, _ = await self.case("twitter", key, words)
        event = DmEvent(id=f"9{user}", text=f"dm: {words}", sender_id=user, conversation_id=f"1-{user}")
        self.x_inbox.store([event])
        self.x_state.finish((DM, event.id), (THREAD, f"5551:{user}"))
        self.x_state.save_choices(key, [(f"Yes {words}", "/affirm")])
        return Customer(key, "twitter", (user, words, case_id))

    async def rest_customer(self, words: str) -> Customer:
        issued = self.rest.issue()
        case_id, _ = await self.case("rest", issued.sender_key, words)
        self.mailbox.post(issued.sender_key, f"agent reply about {words}", author="alice")
        return Customer(issued.sender_key, "rest", (issued.conversation_id, words, case_id))

    async def customers(self, tag: str, telegram_user: int, x_user: str) -> dict[str, Customer]:
        return {
            "telegram": await self.telegram_customer(telegram_user, f"zebra{tag}"),
            "twitter": await self.x_customer(x_user, f"quokka{tag}"),
            "rest": await self.rest_customer(f"axolotl{tag}"),
        }


@pytest.fixture
def world(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    world = World(engine, database_url, tmp_path)
    yield world
    world.tracker.engine.dispose()
    engine.dispose()


@pytest.mark.parametrize("channel", ["telegram", "twitter", "rest"])
async def test_erasing_a_customer_leaves_nothing_of_them_in_any_table_and_keeps_the_others(world, channel):
    target = (await world.customers("Alpha", 7301234567, "8801234567"))[channel]
    others = await world.customers("Bravo", 7309876543, "8809876543")
    other_tokens = tuple(t for c in others.values() for t in c.tokens)
    others_before = tables_holding(world.engine, other_tokens)
    assert tables_holding(world.engine, target.tokens) >= CASE_TABLES | CHANNEL_TABLES[channel] | {
        "events",
        "audit_log",
    }

    erasure = erase_customer(world.engine, target.key, SALT, actor="operator")

    assert tables_holding(world.engine, target.tokens) == set()
    assert tables_holding(world.engine, other_tokens) == others_before
    assert not list(world.files.rglob(f"*{target.tokens[1]}*"))
    assert not (world.files / target.tokens[2]).exists()  # the case's folder too
    assert len(list(world.files.rglob("*Bravo*"))) == 3
    assert erasure.files == 1 and erasure.counts["cases"] == 1
    last = world.audit.entries()[-1]
    assert (last.action, last.actor, last.case_id) == (ERASED, "operator", None)
    assert last.detail["customer_hash"] == customer_hash(SALT, target.key) != customer_hash("other", target.key)


async def test_a_telegram_conversation_key_erases_that_conversation_only(world):
    customer = await world.telegram_customer(7301234567, "zebraAlpha")
    erase_customer(world.engine, "tg:7301234567:7301234567", SALT)
    assert tables_holding(world.engine, ("hello, zebraAlpha",)) == set()  # the private chat's case
    assert tables_holding(world.engine, ("group words zebraAlpha", "in the group: zebraAlpha")) == {
        "events",
        "telegram_updates",
    }
    erase_customer(world.engine, customer.key, SALT)
    assert tables_holding(world.engine, customer.tokens) == set()


async def test_erasing_a_customer_removes_the_links_agents_made_to_them_and_the_audit_lines_naming_them(world):
    target = await world.x_customer("8801234567", "quokkaAlpha")
    other = await world.telegram_customer(7309876543, "zebraBravo")
    third = await world.rest_customer("axolotlBravo")
    links = CustomerLinks(world.engine)
    other_case = world.store.latest_case("telegram", f"tg:{7309876543}:{7309876543}")
    for handle in (target.key, third.key):  # as the desk does: the link, and its audit line on the case looked at
        links.link("tg:7309876543", handle, by="alice")
        detail = {"customer": "tg:7309876543", "other": handle}
        world.audit.record(actor="alice", via="desk", action=LINK, case_id=other_case.id, detail=detail)

    erasure = erase_customer(world.engine, target.key, SALT)

    assert tables_holding(world.engine, target.tokens) == set()
    assert erasure.counts["customer_links"] == 1
    assert links.person("tg:7309876543") == sorted(["tg:7309876543", third.key])  # the others' link stays
    kept = [e.detail for e in world.audit.entries(other_case.id) if e.action == LINK]
    assert kept == [{"customer": "tg:7309876543", "other": third.key}]
    assert tables_holding(world.engine, other.tokens) >= {"cases", "customer_links", "audit_log"}


def test_a_key_of_no_channel_is_refused(world):
    with pytest.raises(UnknownCustomer):
        erase_customer(world.engine, "7301234567", SALT)


def test_a_key_nothing_is_stored_for_is_refused_and_not_audited(world):
    before = len(world.audit.entries())
    with pytest.raises(NothingStored):
        erase_customer(world.engine, "x:404404404", SALT)
    assert len(world.audit.entries()) == before


def _admin(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.admin", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_command_refuses_a_bad_key_before_making_a_salt_and_a_missing_customer_with_3(sqlite_url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": sqlite_url, "ERASURE_SALT": SALT}
    bad = _admin({k: v for k, v in env.items() if k != "ERASURE_SALT"}, tmp_path, "erase", "--customer", "7301234567")
    assert bad.returncode == 2 and "is not a customer key" in bad.stderr
    assert "ERASURE_SALT is unset" not in bad.stderr  # refused before any salt was made or announced
    missing = _admin(env, tmp_path, "erase", "--customer", "rest:nobodyHere")
    assert missing.returncode == 3 and "nothing is stored for 'rest:nobodyHere'" in missing.stderr
    assert missing.stdout == ""


def test_the_command_erases_and_prints_counts_and_the_hash(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    case = CaseStore(engine).open_case(
        intent="other", priority=3, channel="rest", sender_id="rest:abc", summary="s", details={}
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": sqlite_url, "ERASURE_SALT": SALT}
    result = subprocess.run(
        [sys.executable, "-m", "bot.admin", "erase", "--customer", "rest:abc"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["customer_hash"] == customer_hash(SALT, "rest:abc")
    assert CaseStore(engine).find(case.id) is None
    engine.dispose()


def test_without_a_configured_salt_one_is_made_once_and_kept_private(tmp_path):
    salt_file = tmp_path / "var" / "erasure-salt"
    made = erasure_salt(None, salt_file)
    assert len(made) == 64 and erasure_salt(None, salt_file) == made
    assert salt_file.stat().st_mode & 0o777 == 0o600
    assert erasure_salt("configured", salt_file) == "configured"
    assert [p.name for p in salt_file.parent.iterdir()] == ["erasure-salt"]


def test_on_sqlite_nothing_of_the_customer_stays_in_the_file_or_its_write_ahead_log(tmp_path):
    path = tmp_path / "support.db"
    engine = make_engine(f"sqlite:///{path}")
    store = CaseStore(engine)
    for sender, words in (("rest:gone", "orangewalrus says hi"), ("rest:kept", "bluefalcon stays")):
        case = store.open_case(intent="other", priority=3, channel="rest", sender_id=sender, summary=words, details={})
        store.resolve(case.id, "alice")
        store.rate(case.id, 3)
        store.comment_on_rating(case.id, f"comment: {words}")  # the rating's comment is the customer's words too
    other_process = sqlite3.connect(path)  # the running stack keeps the file open: the log is not removed on close
    try:
        other_process.execute("SELECT count(*) FROM cases").fetchone()
        erasure = erase_customer(engine, "rest:gone", SALT)
        engine.dispose()
        assert erasure.wal_cleared is True
        stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("support.db"))
        assert b"orangewalrus" not in stored and b"comment: bluefalcon" in stored
    finally:
        other_process.close()
