"""One HTTP/1.1 exchange over a plain socket: any bytes in the request line, headers and body."""

from __future__ import annotations

import contextlib
import socket


def exchange(port: int, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """Send one request and return the response's status; fail when the server does not answer at all."""
    names = {name.lower() for name, _ in headers}
    head = [b"%s %s HTTP/1.1" % (method, target), b"Host: 127.0.0.1:%d" % port]
    if b"connection" not in names:
        head.append(b"Connection: close")
    if b"content-length" not in names and b"transfer-encoding" not in names:
        head.append(b"Content-Length: %d" % len(body))
    head += [name + b": " + value for name, value in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        with contextlib.suppress(ConnectionError):  # answered and closed before reading it all (413)
            sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1."), f"no HTTP answer to {method!r} {target[:200]!r}: {status_line!r}"
    return int(status_line.split()[1])
