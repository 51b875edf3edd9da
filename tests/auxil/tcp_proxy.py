"""A TCP proxy on 127.0.0.1 in front of a real service, whose faults the test switches.

It runs its own asyncio loop in a thread, so sync tests, async tests and the processes of
a whole stack can all go through it. Modes:

- ``forward``: bytes pass both ways;
- ``blackhole``: a hang. New connections are accepted and held, and nothing passes either
  way on any connection (a close neither), as in a network partition; what was held
  passes once the mode is ``forward`` again, as TCP would deliver it after the partition;
- ``refuse``: every open connection is reset, and each new one is reset as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
FORWARD, BLACKHOLE, REFUSE = "forward", "blackhole", "refuse"
CHUNK = 65536
CONTROL_SECONDS = 10.0


class TcpProxy:
    """Listens on 127.0.0.1:``port`` and relays to ``upstream``; starts in ``forward``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._mode = FORWARD
        self._flowing = asyncio.Event()
        self._links: set[asyncio.Task[None]] = set()
        self._writers: dict[asyncio.Task[None], list[asyncio.StreamWriter]] = {}
        self._server: asyncio.AbstractServer | None = None
        self._held = 0
        self.accepted = 0
        self.port = 0

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def open_connections(self) -> int:
        """Client connections the proxy holds now (relayed or held)."""
        return len(self._links)

    @property
    def held(self) -> int:
        """New connections and chunks of bytes the blackhole is holding: someone is waiting on it."""
        return self._held

    def route(self, url: str) -> str:
        """``url`` (``postgresql://``, ``redis://``, ...) with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        return parts._replace(netloc=f"{userinfo}{'@' if userinfo else ''}127.0.0.1:{self.port}").geturl()

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def forward(self) -> None:
        self._call(self._set_mode(FORWARD))

    def blackhole(self) -> None:
        self._call(self._set_mode(BLACKHOLE))

    def refuse(self) -> None:
        self._call(self._set_mode(REFUSE))

    def stop(self) -> None:
        """Reset every connection, stop listening and end the thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CONTROL_SECONDS)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run on the proxy's loop; the change is in force when this returns."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=CONTROL_SECONDS)

    async def _listen(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set_mode(self, mode: str) -> None:
        self._mode = mode
        if mode == FORWARD:
            self._flowing.set()
            return
        self._flowing.clear()
        if mode == REFUSE:
            await self._reset_all()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._flowing.clear()
        await self._reset_all()

    async def _reset_all(self) -> None:
        links = list(self._links)
        for link in links:
            for writer in self._writers.get(link, []):
                _reset(writer)
            link.cancel()
        await asyncio.gather(*links, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._mode == REFUSE:
            _reset(writer)
            return
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        self._writers[link] = [writer]
        try:
            await self._until_flowing()  # a blackhole holds a new connection before the upstream sees it
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
            self._writers[link].append(upstream_writer)
            directions = [
                asyncio.create_task(self._pump(reader, upstream_writer)),
                asyncio.create_task(self._pump(upstream_reader, writer)),
            ]
            try:
                await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for direction in directions:
                    direction.cancel()
                await asyncio.gather(*directions, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass  # the upstream refused, a side reset, or the test reset the link: close both sides
        finally:
            for each in self._writers.pop(link):
                each.close()
            self._links.discard(link)

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        """Copy until end of stream; in a blackhole both the bytes and the end wait for ``forward``."""
        while True:
            data = await source.read(CHUNK)
            await self._until_flowing()
            if not data:
                return
            target.write(data)
            await target.drain()

    async def _until_flowing(self) -> None:
        if self._flowing.is_set():
            return
        self._held += 1
        try:
            await self._flowing.wait()
        finally:
            self._held -= 1


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (linger 0), as a crashed or firewalled peer would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.contextmanager
def tcp_proxy(upstream_host: str, upstream_port: int) -> Iterator[TcpProxy]:
    """A started proxy, stopped when the block ends."""
    proxy = TcpProxy(upstream_host, upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


__all__ = ["BLACKHOLE", "FORWARD", "REFUSE", "TcpProxy", "tcp_proxy"]
