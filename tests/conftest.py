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
def redis_url(worker_id: str) -> str:
    """Redis, with a database of its own per pytest-xdist worker so parallel stacks never share locks."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    worker = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{worker + 1}"


@pytest.fixture
def proxy_to() -> Iterator[Callable[[str, int], TcpProxy]]:
    """Start a fault-switching TCP proxy in front of ``host:port``; every one stops when the test ends."""
    with ExitStack() as proxies:
        yield lambda host, port: proxies.enter_context(tcp_proxy(host, port))


@pytest.fixture(scope="session")
def served_agent() -> Any:
    """The trained model as the Rasa server loads it, once for every NLU gate module."""
    from bench.served_agent import load_agent
    from bot.runtime.model import ensure_model

    return load_agent(ensure_model())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that start a whole stack or load the model first: ``make test`` deals files to workers in order.

    The long files then run side by side from the start and the many short ones even out the
    end, instead of one worker finishing the last stacks alone.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
