import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bot.cases.database import REPLY_MARGIN_SECONDS, make_engine
from bot.cases.store import CaseStore, TranscriptLine
from bot.helpcenter.library import read_library
from bot.helpcenter.settings import HelpCenterSettings
from connectors.rest.mailbox import RestMailbox
from tests.auxil.desk_app import PASSWORDS, act, context_of, open_case, origin, running_desk, signed_in, visitor


async def test_sign_in_sets_a_strict_http_only_cookie_and_refuses_wrong_passwords(sqlite_url):
    async with running_desk(sqlite_url) as server:
        async with visitor(server) as client:
            assert (await client.get("/api/queue")).status == 401
            page = await client.get("/", allow_redirects=False)
            assert page.status == 302 and page.headers["Location"] == "/login"
            wrong = await client.post(
                "/login",
                data={"name": "alice", "password": "nope"},
                headers={"Origin": origin(server)},
                allow_redirects=False,
            )
            assert wrong.headers["Location"] == "/login?failed=1"
            stranger = await client.post(
                "/login",
                data={"name": "mallory", "password": "x"},
                headers={"Origin": origin(server)},
                allow_redirects=False,
            )
            assert stranger.headers["Location"] == "/login?failed=1"
            assert (await client.get("/api/queue")).status == 401
            good = await client.post(
                "/login",
                data={"name": "alice", "password": PASSWORDS["alice"]},
                headers={"Origin": origin(server)},
                allow_redirects=False,
            )
            page = await client.get("/login")
            assert page.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            cookie = good.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            me = await (await client.get("/api/me")).json()
            assert me["agent"] == "alice" and "alice" in me["on_duty"]
        refused = [(e.actor, e.action) for e in context_of(server).desk.audit.entries() if not e.allowed]
        assert refused == [("alice", "sign_in"), ("(unknown name)", "sign_in")]


async def test_cross_origin_posts_and_websockets_are_refused(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as client:
        case = open_case(server)
        evil = await client.post(f"/api/cases/{case.id}/claim", json={}, headers={"Origin": "http://evil.example"})
        assert evil.status == 403
        missing = await client.post(f"/api/cases/{case.id}/claim", json={})
        assert missing.status == 403
        assert context_of(server).store.get(case.id).status == "open"
        try:
            await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
            raise AssertionError("cross-origin websocket accepted")
        except aiohttp.WSServerHandshakeError as error:
            assert error.status == 403


async def test_two_agents_claim_at_once_exactly_one_wins(database_url):
    async with running_desk(database_url) as server:
        case = open_case(server)
        async with signed_in(server, "alice") as alice, signed_in(server, "bob") as bob:
            results = await asyncio.gather(act(alice, server, case.id, "claim"), act(bob, server, case.id, "claim"))
            statuses = sorted(r.status for r in results)
            assert statuses == [200, 409]
            winner = "alice" if results[0].status == 200 else "bob"
            assert context_of(server).store.get(case.id).assignee == winner
            loser = bob if winner == "alice" else alice
            refused = await act(loser, server, case.id, "reply", text="I am here too")
            assert refused.status == 409
            assert "belongs to" in (await refused.json())["error"]


async def test_reply_reaches_rest_customer_then_resolve_asks_for_rating(database_url):
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        context = context_of(server)
        case = open_case(server)
        assert (await act(alice, server, case.id, "claim")).status == 200
        assert context.store.human_owns("rest", "web-ada") is not None
        reply = await act(alice, server, case.id, "reply", text="Please change your password now.")
        assert reply.status == 200
        assert (await act(alice, server, case.id, "note", text="customer seems legit")).status == 200
        assert (await act(alice, server, case.id, "priority", priority=2)).status == 200
        mailbox = RestMailbox(context.engine)
        assert [m["text"] for m in mailbox.collect("web-ada")] == [
            f"An agent has taken your case {case.id} and will reply here.",
            "Please change your password now.",
        ]
        resolved = await act(alice, server, case.id, "resolve")
        assert resolved.status == 200 and (await resolved.json())["status"] == "resolved"
        rating = mailbox.collect("web-ada")
        assert (
            len(rating) == 1 and case.id in rating[0]["text"] and "1" in rating[0]["text"] and "5" in rating[0]["text"]
        )
        assert [b["payload"] for b in rating[0]["buttons"]] == ["1", "2", "3", "4", "5"]
        assert context.store.human_owns("rest", "web-ada") is None  # the bot answers again
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        shown = [(t["role"], t["delivery"]) for t in view["transcript"]]
        sent = {"state": "sent", "error": None}  # in the mailbox before it was recorded
        assert shown == [("customer", None), ("bot", None), ("agent", sent), ("note", None), ("bot", None)]
        assert [a["action"] for a in view["audit"]] == ["claim", "reply", "note", "priority", "resolve"]
        assert view["priority"] == 2
        again = await act(alice, server, case.id, "resolve")
        assert again.status == 409
        context.store.rate(case.id, 4)
        context.store.comment_on_rating(case.id, "Quick and clear, thank you")
        rated = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert (rated["rating"], rated["rating_comment"]) == (4, "Quick and clear, thank you")


async def test_transcript_export_and_live_feed(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        ws = await alice.ws_connect("/ws", headers={"Origin": origin(server)})
        case = open_case(server)
        event = await asyncio.wait_for(ws.receive_json(), 5)
        assert event["event"] == "case_opened" and event["case"]["id"] == case.id
        await ws.close()
        text = await alice.get(f"/api/cases/{case.id}/export?format=txt")
        assert text.content_type == "text/plain"
        assert f'filename="{case.id}.txt"' in text.headers["Content-Disposition"]
        assert "customer: someone took my BTC" in await text.text()
        data = await (await alice.get(f"/api/cases/{case.id}/export?format=json")).json(content_type=None)
        assert data["case"]["id"] == case.id and data["transcript"][0]["text"] == "someone took my BTC"
        queue = await (await alice.get("/api/queue")).json()
        assert [c["id"] for c in queue["cases"]] == [case.id]
        assert (await alice.get("/api/cases/CX-NOPE00")).status == 404


async def test_every_desk_process_pushes_every_event_to_its_own_pages_once(database_url):
    async with (
        running_desk(database_url) as first,
        running_desk(database_url) as second,
        signed_in(first, "alice") as alice,
        signed_in(second, "bob") as bob,
    ):
        alice_page = await alice.ws_connect("/ws", headers={"Origin": origin(first)})
        bob_page = await bob.ws_connect("/ws", headers={"Origin": origin(second)})
        case = open_case(first)
        context_of(second).store.claim(case.id, "bob")
        for page in (alice_page, bob_page):
            events = [await asyncio.wait_for(page.receive_json(), 5) for _ in range(2)]
            assert [e["event"] for e in events] == ["case_opened", "case_claimed"]
            assert {e["case"]["id"] for e in events} == {case.id}
            assert events[1]["case"]["assignee"] == "bob"
            with pytest.raises(asyncio.TimeoutError):  # each event once, however often the outbox is read
                await asyncio.wait_for(page.receive_json(), 0.5)
        await alice_page.close()
        await bob_page.close()


async def test_attachments_download_with_a_harmless_file_name(sqlite_url, tmp_path):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        store = context_of(server).store
        case = open_case(server)
        stored = tmp_path / "upload.bin"
        stored.write_bytes(b"%PDF-1.4 statement")
        attachment_id = store.add_attachment(
            case.id, kind="document", name='../../etc/"pass wd".pdf', mime_type="application/pdf", size=18,
            stored_path=str(stored),
        )  # fmt: skip
        response = await alice.get(f"/api/cases/{case.id}/attachments/{attachment_id}")
        assert response.status == 200 and await response.read() == b"%PDF-1.4 statement"
        assert response.headers["Content-Disposition"] == 'attachment; filename="_pass wd_.pdf"'
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert view["attachments"][0]["name"] == '../../etc/"pass wd".pdf'
        assert (await alice.get(f"/api/cases/{case.id}/attachments/999")).status == 404


async def test_agent_sends_a_file_to_a_telegram_customer_but_not_to_rest(sqlite_url, tmp_path):
    attachment_dir = tmp_path / "attachments"
    async with (
        running_desk(sqlite_url, TELEGRAM_ATTACHMENT_DIR=str(attachment_dir)) as server,
        signed_in(server, "alice") as alice,
    ):
        store = context_of(server).store
        case = open_case(server, channel="telegram", sender_id="tg:5151:5151")
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 steps", filename="steps.pdf", content_type="application/pdf")
        response = await alice.post(f"/api/cases/{case.id}/file", data=form, headers={"Origin": origin(server)})
        assert response.status == 200, await response.text()
        assert store.get(case.id).assignee == "alice"
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert view["transcript"][-1]["text"] == "[file] steps.pdf"
        assert view["transcript"][-1]["delivery"] == {"state": "queued", "error": None}  # the Telegram channel sends it
        [attachment] = store.attachments(case.id)
        assert (attachment["kind"], attachment["name"]) == ("agent_file", "steps.pdf")
        stored = Path(attachment["stored_path"])
        assert stored.is_relative_to(attachment_dir) and stored.read_bytes() == b"%PDF-1.4 steps"
        rest_case = open_case(server, sender_id="web-file")
        form = aiohttp.FormData()
        form.add_field("file", b"x", filename="a.txt", content_type="text/plain")
        refused = await alice.post(f"/api/cases/{rest_case.id}/file", data=form, headers={"Origin": origin(server)})
        assert refused.status == 409
        assert "only be sent to Telegram" in (await refused.json())["error"]
        untouched = store.get(rest_case.id)  # refused before taking the case: not claimed, customer not told
        assert (untouched.status, untouched.assignee) == ("open", None)
        assert RestMailbox(context_of(server).engine).collect("web-file") == []
        assert [(e.action, e.allowed) for e in context_of(server).desk.audit.entries(rest_case.id)] == [
            ("send_file", False)
        ]
        x_case = open_case(server, channel="twitter", sender_id="x:2001")
        no_x = await act(alice, server, x_case.id, "reply", text="hello")
        assert no_x.status == 409 and "X credentials are not set" in (await no_x.json())["error"]
        audit = context_of(server).desk.audit.entries(x_case.id)
        assert [(e.action, e.allowed) for e in audit] == [("claim", True), ("reply", False)]


async def test_only_the_owner_or_an_admin_changes_a_claimed_cases_priority(database_url):
    async with (
        running_desk(database_url) as server,
        signed_in(server, "alice") as alice,
        signed_in(server, "bob") as bob,
    ):
        context = context_of(server)
        alices, bobs = open_case(server, priority=2), open_case(server, priority=2, sender_id="web-bo")
        assert (await act(alice, server, alices.id, "claim")).status == 200
        assert (await act(bob, server, bobs.id, "claim")).status == 200
        refused = await act(bob, server, alices.id, "priority", priority=1)
        assert refused.status == 409 and "belongs to alice" in (await refused.json())["error"]
        assert context.store.get(alices.id).priority == 2
        last = context.desk.audit.entries(alices.id)[-1]
        assert (last.actor, last.action, last.allowed) == ("bob", "priority", False)
        assert (await act(alice, server, bobs.id, "priority", priority=1)).status == 200  # alice is an admin
        assert context.store.get(bobs.id).priority == 1
        assert (await act(alice, server, bobs.id, "priority", priority=9)).status == 400  # bad input, not a conflict


async def test_hand_back_returns_the_conversation_to_the_bot_and_sign_out_ends_duty(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        context = context_of(server)
        case = open_case(server)
        assert (await act(alice, server, case.id, "claim")).status == 200
        assert context.store.human_owns("rest", "web-ada") is not None
        assert (await act(alice, server, case.id, "hand_back")).status == 200
        assert context.store.human_owns("rest", "web-ada") is None
        assert context.store.get(case.id).status == "open"  # still waiting for another agent
        assert (await act(alice, server, case.id, "hand_back")).status == 409
        assert [a.agent for a in context.desk.roster.current()] == ["alice"]
        out = await alice.post("/logout", headers={"Origin": origin(server)}, allow_redirects=False)
        assert out.status == 302 and out.headers["Location"] == "/login"
        assert (await alice.get("/api/me")).status == 401
        assert context.desk.roster.current() == []
        actions = [(e.action, e.allowed) for e in context.desk.audit.entries()]
        assert actions[-4:] == [("claim", True), ("hand_back", True), ("hand_back", False), ("sign_out", True)]


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["blackhole", "refuse"])
async def test_a_database_fault_is_a_503_the_agent_retries_and_the_reply_lands_once(pg_url, proxy_to, fault):
    """PostgreSQL hangs or refuses (through a proxy): a clear 503 in bounded time, then the same click works."""
    proxy = proxy_to("127.0.0.1", 5432)
    timeouts = {"DATABASE_CONNECT_TIMEOUT_SECONDS": "1", "DATABASE_STATEMENT_TIMEOUT_SECONDS": "1"}
    # A pooled connection's check waits for a reply, then one new connection is tried; the
    # desk's own loops may hold the two worker threads (2 cores) for as long first.
    bound = 2 * (1 + REPLY_MARGIN_SECONDS + 1) + 2
    direct = CaseStore(make_engine(pg_url))
    try:
        async with running_desk(proxy.route(pg_url), **timeouts) as server, signed_in(server, "alice") as alice:
            case = open_case(server)
            assert (await act(alice, server, case.id, "claim")).status == 200
            getattr(proxy, fault)()
            started = time.monotonic()
            failed = await asyncio.wait_for(act(alice, server, case.id, "reply", text="We froze withdrawals."), 30)
            assert time.monotonic() - started < bound
            assert failed.status == 503 and failed.headers["Retry-After"] == "5"
            assert "try again" in (await failed.json())["error"]
            proxy.forward()
            retried = await act(alice, server, case.id, "reply", text="We froze withdrawals.")
            assert retried.status == 200, await retried.text()
        assert direct.get(case.id).status == "claimed" and direct.get(case.id).assignee == "alice"
        lines = [(t.role, t.text) for t in direct.transcript(case.id)]
        claimed = f"An agent has taken your case {case.id} and will reply here."
        assert lines == [("customer", "someone took my BTC"), ("bot", claimed), ("agent", "We froze withdrawals.")]
        mailbox = RestMailbox(direct.engine).collect("web-ada")
        assert [m["text"] for m in mailbox] == [claimed, "We froze withdrawals."]
    finally:
        direct.engine.dispose()


async def test_notices_on_the_agents_behalf_go_out_in_the_customers_language(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        store = context_of(server).store
        written = TranscriptLine(role="customer", text="출금이 3시간째 대기 중이에요")
        case = store.open_case(intent="withdrawal_stuck", priority=2, channel="rest", sender_id="web-minji",
                               summary="출금이 안 돼요", details={}, language="ko", transcript=[written])  # fmt: skip
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert view["language"] == "ko" and view["transcript"][0]["language"] == "ko"  # shown as written
        assert view["transcript"][0]["text"] == "출금이 3시간째 대기 중이에요"
        assert (await act(alice, server, case.id, "claim")).status == 200
        store.record_message(case.id, TranscriptLine(role="customer", text="提现还没到账"))
        store.set_language(case.id, "zh")  # what the gate does when the customer switches
        assert (await act(alice, server, case.id, "resolve")).status == 200
        notices = [m["text"] for m in RestMailbox(context_of(server).engine).collect("web-minji")]
        assert notices == [
            f"상담원이 문의 {case.id} 건을 맡았습니다. 곧 여기에서 답변드리겠습니다.",
            f"您的工单 {case.id} 已处理完毕。您对本次服务满意吗？请回复 1（很差）到 5（非常好）之间的数字。",
        ]


async def test_the_articles_a_customer_tried_are_links_to_the_pages_they_read(sqlite_url):
    library = read_library(HelpCenterSettings())
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        store = context_of(server).store
        tried = ["withdrawal-fees", "trading-fees", "../etc/passwd", "gone-article"]
        case = store.open_case(intent="fees_and_limits", priority=4, channel="rest", sender_id="web-jun",
                               summary="출금 수수료", details={"articles_tried": tried}, language="ko")  # fmt: skip
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert view["articles_tried"] == [
            {"id": "withdrawal-fees", "title": library.get("en", "withdrawal-fees").title,
             "url": "/help/ko/withdrawal-fees"},
            {"id": "trading-fees", "title": library.get("en", "trading-fees").title, "url": "/help/ko/trading-fees"},
            {"id": "gone-article", "title": "gone-article", "url": "/help/ko/gone-article"},  # removed since: its id
        ]  # fmt: skip
        page = await alice.get(view["articles_tried"][0]["url"])
        assert page.status == 200 and library.get("ko", "withdrawal-fees").title in await page.text()
