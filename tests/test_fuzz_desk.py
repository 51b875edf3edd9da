"""Fuzz every desk route with malformed, oversized, wrongly typed and hostile input, signed in and out.

The answer is never a 5xx, no exception escapes a view (aiohttp logs none), and the desk
still answers afterwards. Requests are mostly well-formed around one hostile part, so that they get
past the origin check, the session and the parser to the code behind them. The desk runs
on PostgreSQL, the stricter store (it refuses NUL characters and over-long values that
SQLite keeps). Sign-in throttling is lifted so attempts reach the password check; the
throttle has its own tests.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote_from_bytes, urlencode

import pytest
from aiohttp.http_exceptions import HttpProcessingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cases.store import TranscriptLine
from bot.desk.throttle import SignInThrottle
from tests.auxil.databases import postgres_database
from tests.auxil.desk_app import PASSWORDS, desk_env
from tests.auxil.desk_thread import ServedDesk, served_desk
from tests.auxil.raw_http import exchange

# aiohttp warns about a malformed Content-Disposition and goes on; the suite's warnings-as-errors would not.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
FUZZ = settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ACTIONS = ["claim", "reply", "note", "priority", "resolve", "hand_back", "link_customer", "unlink_customer"]
GET_ROUTES = [
    "/",
    "/login",
    "/healthz",
    "/api/me",
    "/api/queue",
    "/api/cases/{case_id}",
    "/api/cases/{case_id}/export",
    "/api/cases/{case_id}/attachments/{attachment_id}",
    "/static/{path}",
]

WS_HEADERS = [
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Version", b"13"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
]
ODD_WS_HEADERS = [
    (b"Sec-WebSocket-Key", b"short"),
    (b"Sec-WebSocket-Version", b"99"),
    (b"Sec-WebSocket-Protocol", b"chat"),
    (b"Sec-WebSocket-Extensions", b"permessage-deflate; client_max_window_bits=99"),
    (b"Upgrade", b"h2c"),
]


@dataclass
class Target:
    """The served desk with what the fuzz aims at: its cases, a stored attachment and alice's session."""

    desk: ServedDesk
    case_ids: list[str]
    attachment_id: int
    token: str

    @property
    def port(self) -> int:
        return self.desk.port

    @property
    def origin(self) -> bytes:
        return b"http://127.0.0.1:%d" % self.port


class ErrorLog(logging.Handler):
    """Errors aiohttp logs: an exception out of a view counts even when the answer was not a 500."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            return  # aiohttp logs the invalid HTTP it answers with 400 itself, at ERROR
        self.records.append(record)


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[Target]:
    agent_files = str(tmp_path_factory.mktemp("agent_files"))  # what agents send Telegram customers lands here
    with (
        postgres_database() as url,
        served_desk(desk_env(url, DESK_POLL_SECONDS="0.5", TELEGRAM_ATTACHMENT_DIR=agent_files)) as desk,
    ):
        desk.context.sign_ins = SignInThrottle(per_address=10**9, per_name=10**9)
        store = desk.context.store
        cases = [
            store.open_case(
                intent="suspected_theft",
                priority=1,
                channel=channel,
                sender_id=sender,
                summary="Withdrawals I did not make",
                details={"coin": "BTC"},
                transcript=[TranscriptLine(role="customer", text="someone took my BTC")],
            )
            for channel, sender in (("rest", "web-fuzz"), ("telegram", "tg:5151:5151"), ("twitter", "x:2001"))
        ]
        stored = tmp_path_factory.mktemp("attachments") / "statement.pdf"
        stored.write_bytes(b"%PDF-1.4 statement")
        attachment_id = store.add_attachment(
            cases[0].id, kind="document", name="statement.pdf", mime_type="application/pdf", size=18,
            stored_path=str(stored),
        )  # fmt: skip
        yield Target(desk, [c.id for c in cases], attachment_id, desk.context.sessions.start("alice"))


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    """aiohttp's log, where an exception that escapes a view lands (the desk's own reports are deliberate)."""
    handler = ErrorLog()
    logging.getLogger("aiohttp").addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger("aiohttp").removeHandler(handler)


# --- hostile pieces -----------------------------------------------------------------------------

hostile_chars = st.one_of(
    st.characters(),
    st.characters(codec=None, categories=["Cs"]),  # lone surrogates
    st.sampled_from(["\x00", "\r", "\n", "\u202e", "\ufeff", "'", '"', "<", ">", "&", "%", "\\", "/", ";", "="]),
)
hostile_text = st.one_of(
    st.text(hostile_chars, max_size=40),
    st.sampled_from(["../../etc/passwd", "<script>alert(1)</script>", "CX-", "NaN", " ", ""]),
    st.sampled_from([10_001, 70_000]).map(lambda n: "a" * n),  # over the text limit, and far over
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=0, max_value=5),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=8,
)
no_line_breaks = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # surrogates become \ud800 escapes, as a client can send


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate as the bytes a careless client sends


def _segment(value: str | bytes) -> bytes:
    """One path segment, percent-encoded so that any characters or bytes travel."""
    return quote_from_bytes(value if isinstance(value, bytes) else _utf8(value), safe="").encode()


# Hypothesis does not repeat an example, so weighting a branch by listing it twice does nothing;
# instead each request draws which one part is hostile, and the other parts are valid.
HOSTILE_PART = st.sampled_from(["none", "origin", "session", "content type", "case id", "body"])

valid_action_bodies = st.fixed_dictionaries(
    {}, optional={k: json_scalars for k in ("text", "priority", "other", "first", "second")}
).map(_json)
malformed_bodies = st.one_of(
    json_values.map(_json),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth),
    st.sampled_from([b"", b"{", b"null", b'{"priority": 1e999}', b'{"priority": 2, "priority": "x"}']),
    st.just(300_000).map(lambda n: b'{"text": "' + b"a" * n + b'"}'),  # over the body limit
)
odd_content_types = st.one_of(
    st.sampled_from(
        [
            b"application/json; charset=nope",
            b"text/plain",
            b"application/x-www-form-urlencoded; charset=utf-7",
            b"application/x-www-form-urlencoded; charset=nope",
            b"multipart/form-data",
            b"multipart/form-data; boundary=" + b"b" * 80,
            b"multipart/mixed; boundary=fuzz",
        ]
    ),
    no_line_breaks,
)
odd_origins = st.one_of(st.none(), st.just(b"http://evil.example"), no_line_breaks).map(
    lambda origin: [] if origin is None else [(b"Origin", origin)]
)
odd_sessions = st.one_of(  # signed out: no cookie, garbage, or a well-formed token nobody holds
    st.none(), no_line_breaks.filter(lambda b: b";" not in b), st.builds(lambda: secrets.token_urlsafe(32).encode())
).map(lambda token: [] if token is None else [(b"Cookie", b"desk_session=" + token)])
odd_case_ids = st.one_of(
    st.from_regex(r"CX-[0-9A-Z]{6}", fullmatch=True).map(str.encode),
    st.text(hostile_chars, min_size=1, max_size=40).map(_segment),
    st.binary(min_size=1, max_size=40).map(_segment),
    st.just(3000).map(lambda n: b"x" * n),
)


@dataclass
class Request:
    headers: list[tuple[bytes, bytes]]
    case_id: bytes
    hostile: str


@st.composite
def requests(draw: st.DrawFn, target: Target, content_type: bytes) -> Request:
    """Headers and a case id, valid except for the one part drawn to be hostile."""
    hostile = draw(HOSTILE_PART)
    origin = draw(odd_origins) if hostile == "origin" else [(b"Origin", target.origin)]
    session = draw(odd_sessions) if hostile == "session" else [(b"Cookie", b"desk_session=" + target.token.encode())]
    kind = draw(odd_content_types) if hostile == "content type" else content_type
    case = draw(st.sampled_from(target.case_ids)).encode()
    if hostile == "case id":
        case = draw(st.sampled_from([case.lower(), case]) | odd_case_ids)
    return Request([(b"Content-Type", kind), *origin, *session], case, hostile)


PART_HEADERS = [b"Content-Type", b"Content-Transfer-Encoding", b"Content-Encoding"]
header_values = st.one_of(
    st.text(hostile_chars, max_size=40).map(_utf8),
    st.sampled_from([b"application/pdf", b"image/png", b"", b"x/y; charset=nope", b"text/plain; charset=utf-7"]),
    st.just(200).map(lambda n: b"a" * n + b"/pdf"),
).filter(lambda b: b"\r" not in b and b"\n" not in b)


@st.composite
def multipart_bodies(draw: st.DrawFn, fields: dict[bytes, st.SearchStrategy[bytes]], malformed: bool) -> bytes:
    """The expected fields (a ``file`` one as a file) with hostile values and content types; or, malformed, any mess."""
    names = list(fields)
    if malformed:
        names = draw(st.lists(st.sampled_from([*fields, b"other"]) | header_values, max_size=4))
    parts = []
    for name in names:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if name == b"file" if not malformed else draw(st.booleans()):
            filename = draw(header_values | st.sampled_from([b"../../etc/passwd", b"statement.pdf"]))
            disposition += b'; filename="' + filename + b'"'
        heads = [disposition if not malformed else draw(st.sampled_from([disposition, b"Content-Disposition: x"]))]
        part_headers = PART_HEADERS if malformed else PART_HEADERS[:1]
        for header in draw(st.lists(st.sampled_from(part_headers), unique=True)):
            heads.append(header + b": " + draw(header_values | st.sampled_from([b"base64", b"gzip", b"rot13"])))
        value = draw(fields.get(name, st.binary(max_size=100)))
        parts.append(b"\r\n".join(heads) + b"\r\n\r\n" + value)
    body = b"".join(b"--fuzz\r\n" + part + b"\r\n" for part in parts) + b"--fuzz--\r\n"
    if malformed:
        body = draw(st.sampled_from([body, body[: len(body) // 2], body.replace(b"--fuzz", b"--other", 1)]))
    return body


# --- the routes ---------------------------------------------------------------------------------

FORM = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data; boundary=fuzz"
JSON = b"application/json"


def _send(target: Target, errors: ErrorLog, method: bytes, path: bytes, request: Request, body: bytes = b"") -> None:
    """One request, which must be answered below 500 and without an error logged."""
    errors.records.clear()
    status = exchange(target.port, method, path, request.headers, body)
    what = (request.hostile, method, path[:300], request.headers, body[:300])
    assert status < 500, f"{status} for {what!r}"
    assert not errors.records, f"error logged for {what!r}: {errors.records[0].getMessage()}"


@FUZZ
@given(data=st.data())
def test_sign_in(target, errors, data):
    names = st.sampled_from(list(PASSWORDS)) | st.text(hostile_chars, min_size=1, max_size=40) | hostile_text
    passwords = st.sampled_from(list(PASSWORDS.values())) | hostile_text
    multipart = data.draw(st.booleans())
    request = data.draw(requests(target, MULTIPART if multipart else FORM))
    if multipart:
        fields = {b"name": names.map(_utf8), b"password": passwords.map(_utf8)}
        body = data.draw(multipart_bodies(fields, malformed=request.hostile == "body"))
    elif request.hostile == "body":
        body = data.draw(malformed_bodies)
    else:
        form = data.draw(st.fixed_dictionaries({"name": names, "password": passwords}, optional={"x": hostile_text}))
        body = urlencode({key: _utf8(value) for key, value in form.items()}).encode()
    _send(target, errors, b"POST", b"/login", request, body)


@FUZZ
@given(data=st.data())
def test_sign_out(target, errors, data):
    request = data.draw(requests(target, JSON))
    bob = b"desk_session=" + target.desk.context.sessions.start("bob").encode()
    alice = b"desk_session=" + target.token.encode()
    request.headers = [(name, bob if value == alice else value) for name, value in request.headers]  # alice stays
    body = data.draw(malformed_bodies if request.hostile == "body" else valid_action_bodies)
    _send(target, errors, b"POST", b"/logout", request, body)


@FUZZ
@given(data=st.data())
def test_case_actions(target, errors, data):
    request = data.draw(requests(target, JSON))
    actions = st.sampled_from(ACTIONS)
    if request.hostile == "case id":
        actions = actions | st.text(hostile_chars, min_size=1, max_size=20)
    path = b"/api/cases/" + request.case_id + b"/" + _segment(data.draw(actions))
    body = data.draw(malformed_bodies if request.hostile == "body" else valid_action_bodies)
    _send(target, errors, b"POST", path, request, body)


@FUZZ
@given(data=st.data())
def test_send_file(target, errors, data):
    request = data.draw(requests(target, MULTIPART))
    malformed = request.hostile == "body"
    upload = multipart_bodies({b"file": st.binary(max_size=100) | st.just(b"%PDF-1.4")}, malformed=malformed)
    body = data.draw(upload | malformed_bodies if malformed else upload)
    _send(target, errors, b"POST", b"/api/cases/" + request.case_id + b"/file", request, body)


@FUZZ
@given(data=st.data())
def test_live_socket(target, errors, data):
    request = data.draw(requests(target, JSON))
    handshake = WS_HEADERS
    if request.hostile in ("content type", "body"):
        handshake = data.draw(st.lists(st.sampled_from(WS_HEADERS + ODD_WS_HEADERS), unique=True))
    request.headers = [*handshake, *request.headers[1:]]  # no Content-Type on a handshake
    method = b"POST" if request.hostile == "case id" else b"GET"
    _send(target, errors, method, b"/ws", request)


@pytest.mark.parametrize("route", GET_ROUTES)
@FUZZ
@given(data=st.data())
def test_get_routes(target, errors, data, route):
    request = data.draw(requests(target, JSON))
    path = route.encode().replace(b"{case_id}", request.case_id)
    if b"{attachment_id}" in path:
        attachment = st.just(str(target.attachment_id).encode())
        if request.hostile == "body":
            attachment = st.one_of(
                st.integers(min_value=0, max_value=10**30).map(lambda n: str(n).encode()),
                st.text(hostile_chars, min_size=1, max_size=20).map(_segment),
                st.just(5000).map(lambda n: b"9" * n),
            )
        path = path.replace(b"{attachment_id}", data.draw(attachment))
    if b"{path}" in path:
        static = st.sampled_from([b"app.js", b"style.css", b"..%2F..%2Fapp.py", b"%2E%2E/views.py"])
        path = path.replace(b"{path}", data.draw(static | st.text(hostile_chars, max_size=30).map(_segment)))
    if request.hostile == "body":
        queries = st.sampled_from([b"format=json", b"format=txt", b"format=xml", b"format=", b"format=%00"])
        path += b"?" + data.draw(queries | st.text(hostile_chars, max_size=30).map(_segment))
    request.headers = request.headers[1:]  # no Content-Type on a GET
    _send(target, errors, b"GET", path, request)


def test_the_desk_still_answers_after_the_fuzz(target, errors):
    assert exchange(target.port, b"GET", b"/healthz", []) == 200
    assert exchange(target.port, b"GET", b"/api/me", [(b"Cookie", b"desk_session=" + target.token.encode())]) == 200
    sign_in = urlencode({"name": "bob", "password": PASSWORDS["bob"]}).encode()
    form = [(b"Content-Type", FORM), (b"Origin", target.origin)]
    assert exchange(target.port, b"POST", b"/login", form, sign_in) == 302
    assert not errors.records
