"""The queue an agent works from: filters, search over ids, handles, txids and transcripts, reopening."""

from bot.cases.queue import QueueFilter, find_cases
from bot.cases.store import TranscriptLine
from tests.auxil.desk_app import act, context_of, running_desk, signed_in

TXID = "9f2c" + "ab" * 30


def _open(server, *, channel, sender_id, priority, details, text):
    return context_of(server).store.open_case(
        intent="withdrawal_missing",
        priority=priority,
        channel=channel,
        sender_id=sender_id,
        summary="Withdrawal not received",
        details=details,
        transcript=[TranscriptLine(role="customer", text=text)],
    )


async def _ids(client, query: str = "") -> list[str]:
    response = await client.get("/api/queue" + query)
    assert response.status == 200, await response.text()
    return [c["id"] for c in (await response.json())["cases"]]


async def test_filters_and_search_find_the_case_and_resolved_cases_reopen(database_url):
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        context = context_of(server)
        tg = _open(server, channel="telegram", sender_id="tg:5151:5151", priority=2, details={"txid": TXID}, text="hi")
        x = _open(
            server,
            channel="twitter",
            sender_id="x:777",
            priority=1,
            details={"x_username": "satoshi_fan"},
            text="my deposit 100% vanished_now",
        )
        web = _open(
            server,
            channel="rest",
            sender_id="web-ada",
            priority=3,
            details={"customer_name": "김민수"},
            text="where is my USDT?",
        )
        assert await _ids(alice) == [x.id, tg.id, web.id]  # most urgent first
        assert await _ids(alice, "?q=김민수") == [web.id]  # details as written, not as \u escapes
        assert await _ids(alice, f"?q={TXID[:12].upper()}") == [tg.id]  # part of a txid, any case
        assert await _ids(alice, f"?q={tg.id.lower()}") == [tg.id]
        assert await _ids(alice, "?q=tg:5151") == [tg.id]  # the customer's handle
        assert await _ids(alice, "?q=usdt+where") == [web.id]  # every word, from the transcript
        assert await _ids(alice, "?q=100%25") == [x.id] and await _ids(alice, "?q=_now") == [x.id]  # not wildcards
        assert await _ids(alice, "?q=%25%25") == []
        assert await _ids(alice, "?channel=twitter") == [x.id]
        assert await _ids(alice, "?priority=3") == [web.id]
        queue = await (await alice.get("/api/queue")).json()
        customers = {c["id"]: c["customer"] for c in queue["cases"]}
        assert customers[x.id] == {"name": "@satoshi_fan", "handle": "x:777"}
        assert customers[tg.id] == {"name": "tg:5151", "handle": "tg:5151"}
        assert (await act(alice, server, tg.id, "claim")).status == 200
        assert await _ids(alice, "?mine=1") == [tg.id]
        assert await _ids(alice, "?status=claimed") == [tg.id]
        assert (await act(alice, server, tg.id, "resolve")).status == 200
        assert tg.id not in await _ids(alice)
        assert await _ids(alice, f"?status=resolved&q={TXID}") == [tg.id]  # resolved cases stay findable
        view = await (await alice.get(f"/api/cases/{tg.id}")).json()
        assert view["status"] == "resolved" and view["sla_state"] in ("met", "breached")
        assert (await act(alice, server, tg.id, "reopen")).status == 200
        reopened = context.store.get(tg.id)
        assert reopened.status == "open" and reopened.assignee is None and reopened.resolved_at is None
        assert (await act(alice, server, tg.id, "reopen")).status == 409  # it is open already
        for bad in ("?status=done", "?priority=5", "?channel=fax", "?q=" + "x" * 201):
            response = await alice.get("/api/queue" + bad)
            assert response.status == 400, bad


async def test_a_case_does_not_reopen_beside_the_customers_newer_open_case(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        old = _open(server, channel="rest", sender_id="web-bo", priority=3, details={}, text="first")
        assert (await act(alice, server, old.id, "resolve")).status == 200
        newer = _open(server, channel="rest", sender_id="web-bo", priority=3, details={}, text="second")
        refused = await act(alice, server, old.id, "reopen")
        assert refused.status == 409 and newer.id in (await refused.json())["error"]
        assert context_of(server).store.get(old.id).status == "resolved"


def test_the_working_queue_is_most_urgent_first_and_closed_cases_newest_first(sqlite_url):
    from bot.cases.database import make_engine
    from bot.cases.store import CaseStore

    engine = make_engine(sqlite_url)
    try:
        store = CaseStore(engine)
        first = store.open_case(intent="a", priority=3, channel="rest", sender_id="a", summary="s", details={})
        second = store.open_case(intent="b", priority=3, channel="rest", sender_id="b", summary="s", details={})
        store.resolve(second.id, "alice")
        store.resolve(first.id, "alice")
        assert [c.id for c in find_cases(engine, QueueFilter(statuses=("resolved",)))] == [first.id, second.id]
    finally:
        engine.dispose()
