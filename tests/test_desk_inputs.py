"""Bad input to any desk route is a 4xx that says why, never a server error."""

import pytest

from tests.auxil.desk_app import act, context_of, open_case, origin, running_desk, signed_in, visitor


async def _post(client, server, path, body: bytes, content_type="application/json"):
    return await client.post(path, data=body, headers={"Origin": origin(server), "Content-Type": content_type})


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"[1, 2]", b'"text"', b"null", b"[" * 100_000, b"1" * 5000, b"\xff\xfe{}"],
    ids=["truncated", "garbage", "array", "string", "null", "deeply-nested", "huge-number", "not-utf8"],
)
async def test_a_body_that_is_not_a_json_object_is_400(sqlite_url, body):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await _post(alice, server, f"/api/cases/{case.id}/priority", body)
        assert response.status == 400, await response.text()
        assert "JSON" in (await response.json())["error"]
        assert context_of(server).store.get(case.id).priority == 2


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("priority", {"priority": "x"}),
        ("priority", {"priority": "2"}),
        ("priority", {"priority": 2.0}),
        ("priority", {"priority": True}),
        ("priority", {"priority": None}),
        ("priority", {}),
        ("reply", {"text": 42}),
        ("reply", {"text": ["hi"]}),
        ("reply", {}),
        ("note", {"text": {"a": 1}}),
    ],
)
async def test_wrongly_typed_fields_are_400_and_change_nothing(sqlite_url, action, body):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await act(alice, server, case.id, action, **body)
        assert response.status == 400, await response.text()
        field = "priority" if action == "priority" else "text"
        assert field in (await response.json())["error"]
        after = context_of(server).store.get(case.id)
        assert (after.priority, after.status) == (2, "open")
        assert [t.role for t in context_of(server).store.transcript(case.id)] == ["customer"]


async def test_huge_text_is_400_and_a_huge_body_413(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        long_reply = await act(alice, server, case.id, "reply", text="a" * 10_001)
        assert long_reply.status == 400 and "10000" in (await long_reply.json())["error"]
        huge = await _post(alice, server, f"/api/cases/{case.id}/note", b'{"text": "' + b"a" * 300_000 + b'"}')
        assert huge.status == 413
        assert (await act(alice, server, case.id, "note", text="a" * 10_000)).status == 200


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"], ids=["nul", "surrogate"])
async def test_text_no_store_can_keep_is_400_on_every_store(database_url, text):
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        escaped = text.encode("ascii", "backslashreplace").replace(b"\\x00", b"\\u0000")
        for action in ("reply", "note"):
            response = await _post(alice, server, f"/api/cases/{case.id}/{action}", b'{"text": "' + escaped + b'"}')
            assert response.status == 400, await response.text()
        assert [t.role for t in context_of(server).store.transcript(case.id)] == ["customer"]


@pytest.mark.parametrize("case_id", ["CX-NOPE00", "CX-%00AAAA", "x" * 2000, "CX-ABCDEFG", "%F0%9F%92%A5"])
async def test_unknown_or_malformed_case_ids_are_404_on_every_store(database_url, case_id):
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        for path in (f"/api/cases/{case_id}", f"/api/cases/{case_id}/export", f"/api/cases/{case_id}/attachments/1"):
            response = await alice.get(path)
            assert response.status == 404, (path, await response.text())
        for action in ("claim", "note"):
            response = await act(alice, server, case_id, action, text="hello")
            assert response.status == 404, await response.text()
            assert "no case" in (await response.json())["error"]


async def test_an_unknown_action_is_404_before_the_body_is_read(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        for action in ("delete", "export", "CLAIM"):
            response = await _post(alice, server, f"/api/cases/{case.id}/{action}", b"{not json")
            assert response.status == 404
            assert (await response.json())["error"] == "unknown action"


@pytest.mark.parametrize(
    "attachment_id", ["9" * 5000, "\uff11", "99999999999999999999"], ids=["5000-digits", "fullwidth", "20-digits"]
)
async def test_bad_attachment_ids_are_404(sqlite_url, attachment_id):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await alice.get(f"/api/cases/{case.id}/attachments/{attachment_id}")
        assert response.status == 404


async def test_an_unknown_export_format_is_400(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await alice.get(f"/api/cases/{case.id}/export?format=xml")
        assert response.status == 400 and "format" in (await response.json())["error"]
        assert [e.action for e in context_of(server).desk.audit.entries(case.id)] == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nfoo"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--x--\r\n'),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            b"Content-Transfer-Encoding: rot13\r\n\r\nvalue\r\n--x--\r\n",
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            b"Content-Type: " + b"a" * 200 + b"/pdf\r\n\r\nvalue\r\n--x--\r\n",
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nv\r\n--x--\r\n',
        ),
        ("application/x-www-form-urlencoded; charset=nope", b"file=x"),
    ],
    ids=["no-boundary", "truncated", "nameless-part", "unknown-encoding", "bad-content-type", "not-a-file", "charset"],
)
async def test_a_malformed_upload_is_400(sqlite_url, content_type, body):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await _post(alice, server, f"/api/cases/{case.id}/file", body, content_type)
        assert response.status == 400, await response.text()
        assert context_of(server).store.attachments(case.id) == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=nope", b"name=alice&password=x"),
        ("application/x-www-form-urlencoded", b"name=" + b"a" * 65 + b"&password=x"),
        ("application/x-www-form-urlencoded", b"name=alice&password=" + b"p" * 1025),
        ("application/x-www-form-urlencoded", b"name=al%00ice&password=x"),
        ("application/x-www-form-urlencoded", b"password=x"),
        ("application/json", b'{"name": "alice", "password": "x"}'),
        ("multipart/form-data; boundary=x", b"--x\r\nfoo"),
    ],
    ids=["charset", "long-name", "long-password", "nul", "no-name", "json", "broken-multipart"],
)
async def test_a_malformed_sign_in_form_is_400_and_not_audited(sqlite_url, content_type, body):
    async with running_desk(sqlite_url) as server:
        async with visitor(server) as client:
            response = await _post(client, server, "/login", body, content_type)
            assert response.status == 400, await response.text()
            assert "desk_session" not in response.cookies
        assert context_of(server).desk.audit.entries() == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_what_its_content_encoding_says_is_400(sqlite_url, encoding):
    """Found by an outside test: a false Content-Encoding was a 500, signed in or not."""
    async with running_desk(sqlite_url) as server, visitor(server) as client:
        response = await client.post(
            "/login",
            data=b"name=alice&password=x",
            headers={"Origin": origin(server), "Content-Type": "application/x-www-form-urlencoded",
                     "Content-Encoding": encoding},
            allow_redirects=False,
        )  # fmt: skip
        assert response.status == 400, response.status
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, priority=2)
        response = await alice.post(
            f"/api/cases/{case.id}/note",
            data=b'{"text": "hi"}',
            headers={"Origin": origin(server), "Content-Type": "application/json", "Content-Encoding": encoding},
        )
        assert response.status == 400, response.status
