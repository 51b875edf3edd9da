"""Everything the desk process holds open, built and closed in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.cases.agent_directory import AgentDirectory
from bot.cases.agents import DeskSessions, DutyRoster
from bot.cases.audit import AuditLog
from bot.cases.customer_links import CustomerLinks
from bot.cases.database import make_engine
from bot.cases.deliveries import Backoff, DeliveryLedger
from bot.cases.escalations import Escalations
from bot.cases.events import OutboxReader
from bot.cases.group_updates import GroupUpdates
from bot.cases.leases import LeaderLease
from bot.cases.store import CaseStore
from bot.cases.team_routing import TeamRoutingStore
from bot.desk.destinations import CustomerNotices, Destination, TelegramGroup, Webhook
from bot.desk.dispatcher import Dispatcher
from bot.desk.escalation import EscalationWatcher
from bot.desk.group_bot import AgentGroupBot
from bot.desk.live import LiveFeed, LiveHub
from bot.desk.passwords import Credentials
from bot.desk.relay import CustomerRelay
from bot.desk.routing_book import RoutingBook
from bot.desk.service import AgentDesk
from bot.desk.settings import DeskSettings
from bot.desk.telegram_replies import TelegramReplies
from bot.desk.texts import CustomerTexts
from bot.desk.throttle import SignInThrottle
from bot.desk.typing import CustomerTyping
from bot.lifecycle.job import purge_lease, run_purges
from bot.lifecycle.purge import Purge
from bot.runtime.tasks import all_cancelled
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import TelegramSender
from connectors.twitter.sender import XSender


@dataclass
class DeskContext:
    settings: DeskSettings
    engine: Engine
    store: CaseStore
    ledger: DeliveryLedger
    sessions: DeskSessions
    agents: AgentDirectory
    credentials: Credentials
    sign_ins: SignInThrottle
    desk: AgentDesk
    hub: LiveHub
    dispatcher: Dispatcher
    routing: RoutingBook  # teams and routes in force: an admin's saved edit, else the teams file
    typing: CustomerTyping | None = None  # set when the customer bot's token is
    leases: tuple[LeaderLease, ...] = ()  # the jobs this process competes for (readiness checks them)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop_tasks(self) -> None:
        """Cancel the background loops (dispatcher, escalation watcher, group bot) and wait for them."""
        await all_cancelled(self.tasks)


DESK = web.AppKey("desk", DeskContext)
logger = logging.getLogger(__name__)
GROUP_POLLER_LEASE = "agents_group_poller"


@contextlib.asynccontextmanager
async def open_desk(settings: DeskSettings) -> AsyncIterator[DeskContext]:
    """Open the database, the bots and the HTTP client; start dispatcher, watcher, daily purge and group bot."""
    engine = make_engine(settings.core.database_url, timeouts=settings.core.database_timeouts)
    store = CaseStore(engine, default_wait_minutes=settings.core.default_wait_minutes)
    ledger = DeliveryLedger(engine, backoff=Backoff(settings.retry_base_seconds, settings.retry_max_seconds))
    roster = DutyRoster(engine, idle_minutes=settings.idle_minutes)
    directory = AgentDirectory(engine)
    routing = RoutingBook(TeamRoutingStore(engine), settings.routing)
    await asyncio.to_thread(_seed_agents, directory, settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        x_sender = None
        if settings.x is not None:
            x_sender = XSender(settings.x)
            stack.push_async_callback(x_sender.close)
        texts = CustomerTexts.load()
        relay = CustomerRelay(
            store,
            RestMailbox(engine),
            TelegramReplies(store, settings.attachment_dir),
            x_sender,
            texts=texts,
            x_dm_link=settings.x.dm_link if settings.x else "",
        )
        desk = AgentDesk(store, AuditLog(engine), roster, relay, texts, CustomerLinks(engine))
        hub = LiveHub()
        typing = None
        if settings.customer_telegram is not None:
            typing = CustomerTyping(TelegramSender.from_settings(settings.customer_telegram))
            stack.push_async_callback(typing.stop)
        stack.push_async_callback(hub.close_all)
        escalations = Escalations(engine)
        live_feed = LiveFeed(hub, OutboxReader(engine), store, poll_seconds=settings.poll_seconds)
        destinations: list[Destination] = [CustomerNotices(relay, store, roster, escalations, texts)]
        group_bot = None
        leases: tuple[LeaderLease, ...] = ()
        if settings.telegram_group_enabled:
            assert settings.agent_bot_token is not None and settings.agent_chat_id is not None
            agents_bot = TelegramSender.create(settings.agent_bot_token, base_url=settings.telegram_api_base_url)
            await stack.enter_async_context(agents_bot)
            destinations.append(
                TelegramGroup(
                    agents_bot.bot,
                    settings.agent_chat_id,
                    store,
                    ledger,
                    roster,
                    directory=directory,
                    routing=routing.current,
                    allowed_ids=settings.agent_telegram_ids,
                    desk_origin=settings.public_origin,
                )
            )
            lease = LeaderLease(engine, GROUP_POLLER_LEASE, seconds=settings.agent_poll_timeout_seconds + 30.0)
            leases = (lease,)
            group_bot = AgentGroupBot(
                agents_bot.bot,
                settings.agent_chat_id,
                directory,
                settings.agent_telegram_ids,
                desk,
                ledger,
                lease,
                GroupUpdates(engine),
                poll_timeout=settings.agent_poll_timeout_seconds,
            )
        if settings.webhook_url and settings.webhook_secret:
            session = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)))
            destinations.append(Webhook(session, settings.webhook_url, settings.webhook_secret, store))
        dispatcher = Dispatcher(ledger, destinations, poll_seconds=settings.poll_seconds)
        watcher = EscalationWatcher(
            engine,
            roster,
            escalations,
            p1_realert_seconds=settings.p1_realert_seconds,
            no_agent_notice_seconds=settings.no_agent_notice_seconds,
            check_seconds=min(1.0, settings.p1_realert_seconds / 4),
        )
        context = DeskContext(
            settings=settings,
            engine=engine,
            store=store,
            ledger=ledger,
            sessions=DeskSessions(engine, idle_minutes=settings.idle_minutes, max_hours=settings.session_max_hours),
            agents=directory,
            credentials=await asyncio.to_thread(Credentials, directory),
            sign_ins=SignInThrottle(),
            desk=desk,
            hub=hub,
            dispatcher=dispatcher,
            routing=routing,
            typing=typing,
            leases=leases,
        )
        context.tasks.append(asyncio.create_task(dispatcher.run(), name="outbox-dispatcher"))
        context.tasks.append(asyncio.create_task(live_feed.run(), name="live-feed"))
        context.tasks.append(asyncio.create_task(watcher.run(), name="escalation-watcher"))
        context.tasks.append(asyncio.create_task(hub.watch_sessions(context.sessions), name="page-sessions"))
        every_hours = settings.lifecycle.purge_interval_hours
        purges = run_purges(Purge(engine, settings.lifecycle), purge_lease(engine, every_hours), every_hours)
        context.tasks.append(asyncio.create_task(purges, name="data-purge"))
        if group_bot is not None:
            context.tasks.append(asyncio.create_task(group_bot.run(), name="agents-group-bot"))
        try:
            yield context
        finally:
            await context.stop_tasks()


def _seed_agents(directory: AgentDirectory, settings: DeskSettings) -> None:
    """The agents table starts from ``DESK_AGENTS``; later changes there are not read (an admin manages agents)."""
    if directory.seed(settings.agent_seeds):
        logger.info("agents table seeded from DESK_AGENTS: %s", ", ".join(settings.agents))
        return
    known = {agent.name for agent in directory.all()}
    if missing := [name for name in settings.agents if name not in known]:
        logger.warning(
            "DESK_AGENTS names %s, not in the agents table: it is read on the first start only; "
            "an admin adds agents in the desk",
            ", ".join(missing),
        )
