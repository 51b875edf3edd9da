"""Shared fixtures: database URLs for SQLite and the machine's PostgreSQL and Redis, and proxies to fault them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.auxil.databases import REDIS_HOST, REDIS_PORT, postgres_database, require_service
from tests.auxil.tcp_proxy import TcpProxy, tcp_proxy


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'support.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test on both stores the product supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'support.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def proxy_to() -> Iterator[Callable[[str, int], TcpProxy]]:
    """Start a fault-switching TCP proxy in front of ``host:port``; every one stops when the test ends."""
    with ExitStack() as proxies:
        yield lambda host, port: proxies.enter_context(tcp_proxy(host, port))


@pytest.fixture(scope="session")
def served_agent() -> Any:
    """The trained model as the Rasa server loads it, once for every NLU gate module (a load costs ~15 s)."""
    from bench.served_agent import load_agent
    from bot.runtime.model import ensure_model

    return load_agent(ensure_model())
