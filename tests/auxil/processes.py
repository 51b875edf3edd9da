"""The child processes of a running process, from /proc (a stack's processes, a Rasa server's NLU process)."""

from __future__ import annotations

from pathlib import Path


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid`` (started from any of its threads) and their command lines."""
    children: dict[int, str] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return children  # it exited
    for task in tasks:
        try:
            pids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # the thread ended
        for child in pids:
            try:
                children[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except FileNotFoundError:
                continue  # it just exited
    return children
