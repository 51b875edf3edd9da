"""The desk's customers over its API: names to read, handles that identify, links only an agent makes."""

from tests.auxil.desk_app import act, context_of, running_desk, signed_in


async def test_links_are_made_by_handle_or_case_id_refused_when_they_say_nothing_new_and_audited(sqlite_url):
    async with running_desk(sqlite_url) as server:
        store = context_of(server).store
        telegram = store.open_case(
            intent="account_locked", priority=3, channel="telegram", sender_id="tg:77:77", summary="locked",
            details={"customer_name": "Bob (@bob)"},
        )  # fmt: skip
        x_case = store.open_case(
            intent="suspected_theft", priority=1, channel="twitter", sender_id="x:88", summary="post",
            details={"x_username": "bob"},
        )  # fmt: skip
        web = store.open_case(intent="other", priority=4, channel="rest", sender_id="rest:w1", summary="hi", details={})
        async with signed_in(server, "bob") as bob:
            queue = (await (await bob.get("/api/queue")).json())["cases"]
            shown = {c["id"]: c["customer"] for c in queue}
            assert shown[telegram.id] == {"name": "Bob (@bob)", "handle": "tg:77"}
            assert shown[x_case.id] == {"name": "@bob", "handle": "x:88"}  # the same name: still two people
            assert shown[web.id] == {"name": "rest:w1", "handle": "rest:w1"}
            assert (await (await bob.get(f"/api/cases/{telegram.id}")).json())["history"] == []

            for other, reason in (
                ("x:404", "a handle of a customer with cases"),  # nobody with cases
                ("Bob (@bob)", "a handle of a customer with cases"),  # a name is no identity
                ("CX-000000", "no case with that id"),
                ("tg:77", "already this customer"),
            ):
                refused = await act(bob, server, telegram.id, "link_customer", other=other)
                assert refused.status == 409 and reason in (await refused.json())["error"]
            assert (await act(bob, server, telegram.id, "link_customer", other="x:88")).status == 200
            assert (await act(bob, server, web.id, "link_customer", other=x_case.id)).status == 200
            again = await act(bob, server, x_case.id, "link_customer", other=telegram.id)
            assert again.status == 409 and "already this customer" in (await again.json())["error"]

            seen = await (await bob.get(f"/api/cases/{telegram.id}")).json()
            assert [h["id"] for h in seen["history"]] == [web.id, x_case.id]
            assert seen["history"][1]["customer"] == {"name": "@bob", "handle": "x:88"}
            assert [(k["first"], k["second"], k["linked_by"]) for k in seen["links"]] == [
                ("tg:77", "x:88", "bob"),
                ("rest:w1", "x:88", "bob"),
            ]
            stranger = await act(bob, server, web.id, "unlink_customer", first="tg:77", second="tg:99")
            assert stranger.status == 409
            assert (await act(bob, server, web.id, "unlink_customer", first="x:88", second="tg:77")).status == 200
            seen = await (await bob.get(f"/api/cases/{telegram.id}")).json()
            assert (seen["history"], seen["links"]) == ([], [])
        audit = context_of(server).desk.audit.entries()
        linked = [(e.action, e.case_id, e.allowed) for e in audit if e.action in ("link_customer", "unlink_customer")]
        assert linked == [
            *[("link_customer", telegram.id, False)] * 4,
            ("link_customer", telegram.id, True),
            ("link_customer", web.id, True),
            ("link_customer", x_case.id, False),
            ("unlink_customer", web.id, False),
            ("unlink_customer", web.id, True),
        ]
