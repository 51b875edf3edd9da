"""Rasa's lookup of an event class by its type name, from a table instead of a walk.

``Event.resolve_by_type`` walks every subclass of ``Event`` (about 40, recursively) for each
event it reads: every tracker load and every action-server response. Under load that walk
was a few percent of the Rasa server's CPU. The classes are all imported by the time the
server serves, so the table is built on the first lookup and answers the same.
"""

from __future__ import annotations

import functools

import rasa.shared.utils.common
from rasa.shared.core.events import Event

_installed = False


@functools.cache
def _classes() -> dict[str, type[Event]]:
    table: dict[str, type[Event]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # the walk's order: the first class with the name wins
    return table


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type``'s answers: the class, ``None`` for the old "topic", ``default``, or ValueError."""
    found = _classes().get(type_name) if isinstance(type_name, str) else None  # a list from bad JSON: unknown
    if found is not None:
        return found
    if type_name == "topic":
        return None
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    """Replace the walk once per process."""
    global _installed
    if not _installed:
        Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
        _installed = True
