"""What a desk view accepts from a request; anything else is a 4xx that says why.

Each view reads its input through these functions. aiohttp parses bodies lazily and lets
whatever its parser meets escape; only those parse failures become 400s here, so an
exception anywhere else is still a bug that shows as one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

MAX_JSON_BYTES = 256 * 1024  # a longest text with every character escaped, and room to spare
MAX_TEXT_CHARS = 10_000  # an X direct message holds 10,000 characters; Telegram splits longer text
MAX_NAME_CHARS = 64  # the agent name columns
MAX_PASSWORD_CHARS = 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}", re.ASCII)
_MIME_TYPE = re.compile(r"[\w.+-]{1,50}/[\w.+-]{1,49}", re.ASCII)  # fits the 100-character column
# What aiohttp raises on a malformed form: broken multipart or undecodable text (ValueError),
# an unknown charset (LookupError), a part without a name (AssertionError), an unknown part
# encoding (RuntimeError), a bad part header (HttpProcessingError), a body that does not
# decompress as its Content-Encoding says (RequestPayloadError).
_MALFORMED_FORM = (ValueError, LookupError, AssertionError, RuntimeError, HttpProcessingError, RequestPayloadError)

Form = MultiDictProxy[str | bytes | web.FileField]


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def not_found(message: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": message}), content_type="application/json")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; no body at all counts as an empty one."""
    if not request.can_read_body:
        return {}
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise _too_large(request.content_length or 0)
    try:
        raw = await request.read()
    except RequestPayloadError:  # e.g. "Content-Encoding: gzip" on a body that is not gzip
        raise bad_request("the body could not be decoded as its Content-Encoding says") from None
    if len(raw) > MAX_JSON_BYTES:
        raise _too_large(len(raw))
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _too_large(size: int) -> web.HTTPRequestEntityTooLarge:
    """413, closing the connection: the rest of the body was not read, so it cannot carry another request."""
    error = web.HTTPRequestEntityTooLarge(max_size=MAX_JSON_BYTES, actual_size=size)
    error.force_close()
    return error


def text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise bad_request(f"{name!r} must be a string")
    return _bounded(value, name, MAX_TEXT_CHARS)


def whole_number(body: dict[str, Any], name: str) -> int:
    """An integer, not a string of digits, a float or a boolean."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name!r} must be a whole number")
    return value


def request_id(body: dict[str, Any]) -> str | None:
    """The page's name for one message it sends (``request_id``), the same when the agent sends it again."""
    value = body.get("request_id")
    if value is None:
        return None
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise bad_request("'request_id' must be 8-64 letters, digits, '-' or '_'")
    return value


def flag(body: dict[str, Any], name: str) -> bool:
    """A JSON ``true`` or ``false``, not a string or a number."""
    value = body.get(name)
    if not isinstance(value, bool):
        raise bad_request(f"{name!r} must be true or false")
    return value


async def form(request: web.Request) -> Form:
    """The urlencoded or multipart form of a POST."""
    try:
        return await request.post()
    except _MALFORMED_FORM:
        raise bad_request("the form could not be read") from None


def form_text(fields: Form, name: str, max_chars: int) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name!r} is required")
    return _bounded(value, name, max_chars)


def upload(fields: Form, name: str) -> web.FileField:
    """A file field whose content type can be stored and passed on."""
    value = fields.get(name)
    if not isinstance(value, web.FileField):
        raise bad_request(f"a file field named {name!r} is required")
    if not _MIME_TYPE.fullmatch(value.content_type):
        raise bad_request("the file's content type is not a MIME type")
    return value


def _bounded(value: str, name: str, max_chars: int) -> str:
    """Text every store and platform takes: not too long, no NUL (PostgreSQL refuses it), valid UTF-8."""
    if len(value) > max_chars:
        raise bad_request(f"{name!r} is longer than {max_chars} characters")
    if "\x00" in value:
        raise bad_request(f"{name!r} contains a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise bad_request(f"{name!r} is not valid Unicode text") from None
    return value
