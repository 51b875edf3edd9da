"""The supervisor's readiness probe against real HTTP servers: ready, unready with reasons, not listening."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.runtime.probe import not_ready, readiness_notes
from tests.auxil.rasa_stack import free_port


class _Readiness(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ready = self.path.startswith("/ready")
        notes = ["Telegram is not connected yet"] if self.path == "/ready-connecting" else []
        problems = [] if ready else ["the model is not loaded yet"]
        body = json.dumps({"ready": ready, "problems": problems, "notes": notes}).encode()
        self.send_response(200 if ready else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Readiness)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_only_the_processes_not_ready_are_named_with_their_reasons(server):
    reasons = not_ready(
        {"desk": f"{server}/ready", "rasa": f"{server}/loading", "actions": f"http://127.0.0.1:{free_port()}/health"}
    )
    assert reasons == {"rasa": "the model is not loaded yet", "actions": "not answering yet"}


def test_notes_of_ready_processes_are_read_and_the_others_skipped(server):
    urls = {
        "rasa": f"{server}/ready-connecting",
        "desk": f"{server}/ready",
        "actions": f"http://127.0.0.1:{free_port()}/health",
    }
    assert not_ready(urls) == {"actions": "not answering yet"}
    assert readiness_notes(urls) == {"rasa": ["Telegram is not connected yet"]}
