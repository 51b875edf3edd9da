"""Threads get CPython's interpreter sooner in our servers: each runs its database calls in threads.

A thread that wants the interpreter while the event loop runs waits up to the switch interval
(5 ms by default) before the loop must let go of it, and a database call takes it back after
each round trip to the database: on a busy server that wait, not the call, was most of a call's
time (issue 13's measurements in the README).
"""

from __future__ import annotations

import sys

THREAD_SWITCH_SECONDS = 0.0005


def switch_threads_sooner() -> None:
    """Set this process's switch interval; forked workers inherit it, spawned children start at the default."""
    sys.setswitchinterval(THREAD_SWITCH_SECONDS)
