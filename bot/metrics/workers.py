"""Multiprocess counting for a server with several worker processes; imports no prometheus_client.

With ``SANIC_WORKERS`` (Rasa, with a Redis lock store) or ``ACTION_SERVER_SANIC_WORKERS``
(rasa_sdk) above 1, the server forks workers, and each counts on its own: prometheus_client's
multiprocess mode has every worker write its own file in ``PROMETHEUS_MULTIPROC_DIR``, and
a scrape of any worker adds them up. The client picks its mode when it is first imported,
so ``use_worker_files`` runs before that (in ``bot.runtime.launch``). ``make run`` runs one
worker per process, which needs none of this.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
WORKERS_VARIABLE = {"rasa": "SANIC_WORKERS", "actions": "ACTION_SERVER_SANIC_WORKERS"}


def sanic_workers(process: str, env: Mapping[str, str] | None = None) -> int:
    """How many workers ``process`` (``rasa`` or ``actions``) asks Sanic for; 1 when unset or unreadable."""
    raw = (os.environ if env is None else env).get(WORKERS_VARIABLE[process], "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def use_worker_files(workers: int) -> Path | None:
    """Multiprocess mode when ``workers`` > 1: the directory the workers count in, or None.

    The directory is new for this server and removed when its main process ends (forked
    workers skip atexit). One inherited from the environment is dropped, with or without
    workers: shared by several servers, it would add up their counts, and the client takes
    even an empty value as a directory to write in.
    """
    os.environ.pop(MULTIPROC_VARIABLE, None)
    if workers <= 1:
        return None
    path = Path(tempfile.mkdtemp(prefix="support-metrics-"))
    os.environ[MULTIPROC_VARIABLE] = str(path)
    atexit.register(shutil.rmtree, path, True)
    return path
