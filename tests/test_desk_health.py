"""The desk's /healthz, /readyz and /metrics, and its request ids: the real app on a real database."""

from __future__ import annotations

import ipaddress
import json
import logging

import pytest
from sqlalchemy import select

from bot.cases.deliveries import deliveries
from bot.desk.health import REQUEST_ID_HEADER
from bot.metrics.settings import MetricsSettings
from bot.runtime.log_secrets import SecretMasker
from bot.runtime.logs import JsonFormatter
from tests.auxil.desk_app import act, context_of, open_case, running_desk, signed_in, visitor
from tests.auxil.metrics import sample, value
from tests.auxil.rasa_stack import free_port
from tests.auxil.waiting import until, until_awaited

WEBHOOK_SECRET = "whsec_5b1d0c7e9f2a4c6b8d0e"


async def _scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await response.text()


async def test_alive_and_ready_without_signing_in(database_url):
    async with running_desk(database_url) as server, visitor(server) as client:
        alive = await client.get("/healthz")
        assert alive.status == 200 and (await alive.json()) == {"alive": True}
        ready = await client.get("/readyz")
        assert ready.status == 200, await ready.text()
        assert await ready.json() == {
            "ready": True,
            "checks": {"database": True, "leases": True, "outbox": True},
            "problems": [],
            "notes": [],
        }


@pytest.fixture
def json_lines():
    """Every record logged during the test, as the JSON formatter writes it (in the logging call's context)."""
    lines: list[dict] = []
    formatter = JsonFormatter(SecretMasker([]))

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    handler = Keep(logging.INFO)
    logging.getLogger().addHandler(handler)
    yield lines
    logging.getLogger().removeHandler(handler)


async def test_readyz_is_503_while_the_database_is_unreachable_and_200_again_after(pg_url, proxy_to, json_lines):
    proxy = proxy_to("127.0.0.1", 5432)
    async with running_desk(proxy.route(pg_url)) as server, visitor(server) as client:
        assert (await client.get("/readyz")).status == 200
        proxy.refuse()
        down = await client.get("/readyz")
        body = await down.json()
        assert down.status == 503 and body["checks"]["database"] is False and not body["ready"]
        assert "the database did not answer" in body["problems"]
        request_id = down.headers[REQUEST_ID_HEADER]
        logged = [line for line in json_lines if line["message"].startswith("readiness: the database did not answer")]
        assert logged and logged[-1]["request_id"] == request_id and request_id.startswith("desk-")
        assert (await client.get("/healthz")).status == 200, "alive: the process itself still answers"
        scrape = await _scrape(client)
        assert sample(scrape, "support_database_up") == 0.0
        assert sample(scrape, "support_outbox_depth", destination="customer_notice") is None
        proxy.forward()
        await until_awaited(lambda: _status(client, "/readyz", 200), 15)


async def _status(client, path: str, wanted: int) -> bool:
    return (await client.get(path)).status == wanted


async def test_a_destination_that_is_down_shows_depth_and_age_but_the_desk_stays_ready(sqlite_url):
    env = {
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/nobody-listens",
        "ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ALERT_RETRY_BASE_SECONDS": "60",
    }
    async with running_desk(sqlite_url, **env) as server, visitor(server) as client:
        context = context_of(server)
        case = open_case(server)

        def webhook_settled() -> bool:
            """Both rows planned for the webhook, the first tried once and backing off."""
            with context.engine.connect() as conn:
                attempts = conn.execute(
                    select(deliveries.c.attempts).where(deliveries.c.destination == "webhook")
                ).scalars()
                return sorted(attempts) == [0, 1]

        # two rows: the case's alert and the "nobody on duty" notice; the second waits behind the first
        await until(lambda: context.ledger.counts("customer_notice")["delivered"] == 2 and webhook_settled(), 15)
        scrape = await _scrape(client)
        assert sample(scrape, "support_database_up") == 1.0
        assert sample(scrape, "support_outbox_depth", destination="webhook") == 2.0
        assert sample(scrape, "support_outbox_oldest_age_seconds", destination="webhook") > 0.0
        assert sample(scrape, "support_outbox_overdue_seconds", destination="webhook") == 0.0, "it is backing off"
        assert sample(scrape, "support_outbox_depth", destination="customer_notice") == 0.0
        assert sample(scrape, "support_cases_waiting", priority="P1") == 1.0
        assert sample(scrape, "support_cases_oldest_wait_seconds", priority="P1") > 0.0
        assert sample(scrape, "support_inbox_backlog", channel="telegram") == 0.0
        assert WEBHOOK_SECRET not in scrape and case.sender_id not in scrape
        assert (await client.get("/readyz")).status == 200


async def test_an_outbox_nobody_delivers_makes_the_desk_unready(sqlite_url):
    metrics = MetricsSettings.from_env({"OUTBOX_STUCK_SECONDS": "0.3"})
    async with running_desk(sqlite_url, metrics=metrics) as server, visitor(server) as client:
        await context_of(server).stop_tasks()  # the dispatcher no longer runs
        open_case(server)

        async def unready() -> dict | None:
            response = await client.get("/readyz")
            return await response.json() if response.status == 503 else None

        body = await until_awaited(unready, 10)
        assert body["checks"] == {"database": True, "leases": True, "outbox": False}
        assert any(p.startswith("outbox customer_notice: a sendable row has waited") for p in body["problems"])
        scrape = await _scrape(client)
        assert sample(scrape, "support_outbox_depth", destination="customer_notice") == 1.0
        assert sample(scrape, "support_outbox_overdue_seconds", destination="customer_notice") > 0.3


async def test_metrics_are_refused_outside_the_allowed_networks_and_through_a_proxy(sqlite_url):
    elsewhere = MetricsSettings(allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    async with running_desk(sqlite_url, metrics=elsewhere) as server, visitor(server) as client:
        assert (await client.get("/metrics")).status == 403
    async with running_desk(sqlite_url) as server, visitor(server) as client:
        assert (await client.get("/metrics")).status == 200
        proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert proxied.status == 403


async def test_claim_and_first_reply_are_timed_and_agent_messages_counted(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as client:
        before = await _scrape(client)
        case = open_case(server, priority=1)
        assert (await act(client, server, case.id, "claim")).status == 200
        assert (await act(client, server, case.id, "reply", text="Hi, Alice here.")).status == 200
        assert (await act(client, server, case.id, "reply", text="Withdrawals are frozen.")).status == 200
        after = await _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("support_case_claim_seconds_count", priority="P1") == 1
    assert grew("support_first_agent_response_seconds_count", priority="P1") == 1, "only the first reply"
    assert grew("support_first_agent_response_seconds_sum", priority="P1") > 0
    assert grew("support_messages_sent_total", channel="rest", sender="agent") == 2
    assert grew("support_escalations_total", priority="P1") == 1


async def test_access_lines_carry_the_request_id_and_successful_probes_are_not_logged(sqlite_url):
    formatter = JsonFormatter(SecretMasker([]))
    access: list[dict] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            access.append(json.loads(formatter.format(record)))

    logger = logging.Logger("access-under-test", logging.INFO)  # not the shared aiohttp.access: no global state
    logger.addHandler(Keep(logging.INFO))
    from aiohttp import ClientSession
    from aiohttp.test_utils import TestServer

    from bot.desk.app import create_app
    from bot.desk.health import RequestIdAccessLogger
    from bot.desk.settings import DeskSettings
    from tests.auxil.desk_app import desk_env

    app = create_app(DeskSettings.from_env(desk_env(sqlite_url)), MetricsSettings.from_env({}))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server(access_log_class=RequestIdAccessLogger, access_log=logger)  # as web.run_app gets it
    try:
        async with ClientSession() as session:
            for path in ("/healthz", "/readyz", "/api/me"):  # not a file: aiohttp logs a FileResponse late
                async with session.get(server.make_url(path)) as response:
                    await response.read()
                    request_id = response.headers[REQUEST_ID_HEADER]
        await until(lambda: access, 10)  # the line is written after the reply went out
    finally:
        await server.close()
    assert [line["first_request_line"] for line in access] == ["GET /api/me HTTP/1.1"]
    assert access[0]["request_id"] == request_id and request_id.startswith("desk-")
