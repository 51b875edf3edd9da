"""The desk's agent actions without its web server: what a test needs to resolve a case the way an agent does."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.cases.agents import DutyRoster
from bot.cases.audit import AuditLog
from bot.cases.customer_links import CustomerLinks
from bot.cases.store import CaseStore
from bot.desk.relay import CustomerRelay
from bot.desk.service import Actor, AgentDesk
from bot.desk.telegram_replies import TelegramReplies
from bot.desk.texts import CustomerTexts
from connectors.rest.mailbox import RestMailbox

AGENT = Actor("alice", "desk")


def agent_desk(engine: Engine, attachment_dir: Path) -> AgentDesk:
    """``AgentDesk`` on ``engine``, writing to Telegram customers through the reply outbox the channel sends."""
    store = CaseStore(engine)
    texts = CustomerTexts.load()
    relay = CustomerRelay(store, RestMailbox(engine), TelegramReplies(store, attachment_dir), texts=texts)
    return AgentDesk(store, AuditLog(engine), DutyRoster(engine, idle_minutes=60), relay, texts, CustomerLinks(engine))
