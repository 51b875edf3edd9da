"""Typed reading of environment variables, every bad one reported by its name.

Each settings class reads its variables inside ``reading(env)``. A bad value is recorded
with the variable's name and replaced by the default, so reading goes on; when the
outermost ``reading`` ends, one ``SettingsError`` lists every problem. Nested reads (the
desk's settings read the core settings) and the start-up check of every settings class
(``bot.runtime.configuration``) join the outermost list, so a start reports all bad
variables at once instead of the first one.

Empty counts as unset: ``NAME=`` in ``.env`` means the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)
T = TypeVar("T")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
SHOWN_CHARACTERS = 40  # of a bad number or word in the message; URLs and secrets are never shown


class SettingsError(ValueError):
    """Environment variables whose values the product cannot use, by name."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = "\n".join(f"  {name}: {message}" for name, message in self.problems.items())
        super().__init__(f"invalid settings (environment or .env):\n{lines}")


_problems: ContextVar[dict[str, str] | None] = ContextVar("settings_problems", default=None)


@contextmanager
def reading(env: Mapping[str, str] | None = None) -> Iterator[EnvReader]:
    """Read variables from ``env`` (the process environment by default); raise for bad ones at the outermost end."""
    outer = _problems.get()
    problems: dict[str, str] = {} if outer is None else outer
    token = _problems.set(problems)
    try:
        yield EnvReader(os.environ if env is None else env, problems)
    finally:
        _problems.reset(token)
    if outer is None and problems:
        raise SettingsError(problems)


class EnvReader:
    """Typed getters: a bad value is recorded under its variable's name and the default returned."""

    def __init__(self, env: Mapping[str, str], problems: dict[str, str]) -> None:
        self._env = env
        self._problems = problems

    def problem(self, name: str, message: str) -> None:
        """Record what is wrong with ``name`` (the first problem of a variable is kept)."""
        self._problems.setdefault(name, message)

    def text(self, name: str, default: str = "") -> str:
        """The value without surrounding spaces; ``default`` when unset or empty."""
        return (self._env.get(name) or "").strip() or default

    def optional(self, name: str) -> str | None:
        """The value, or None when unset or empty."""
        return self.text(name) or None

    def items(self, name: str, default: str = "") -> tuple[str, ...]:
        """A comma-separated list, blanks dropped."""
        return tuple(part.strip() for part in self.text(name, default).split(",") if part.strip())

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            return self._bad(name, raw, "is not a whole number", default)
        return self._bounded(name, raw, value, default, minimum, maximum)

    def number(
        self, name: str, default: float, *, positive: bool = False, minimum: float | None = None
    ) -> float:
        """A decimal number; ``positive`` refuses zero and below (a timeout or an interval)."""
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            return self._bad(name, raw, "is not a number", default)
        if not math.isfinite(value):
            return self._bad(name, raw, "is not a finite number", default)
        if positive and value <= 0:
            return self._bad(name, raw, "must be a positive number", default)
        return self._bounded(name, raw, value, default, minimum, None)

    def integers(self, name: str) -> tuple[int, ...]:
        """A comma-separated list of whole numbers (ids)."""
        values = []
        for item in self.items(name):
            try:
                values.append(int(item))
            except ValueError:
                return self._bad(name, item, "must be whole numbers separated by commas", ())
        return tuple(values)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in TRUE_WORDS or raw in FALSE_WORDS:
            return raw in TRUE_WORDS
        return self._bad(name, raw, "must be true or false", default)

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in choices:
            return raw
        return self._bad(name, raw, f"must be one of {', '.join(choices)}", default)

    def url(self, name: str, schemes: Sequence[str], default: str | None = None) -> str | None:
        """An absolute URL with one of ``schemes``; its value is never shown (it may hold a password)."""
        raw = self.text(name)
        if not raw:
            return default
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.netloc:
            self.problem(name, f"must be a URL starting with {' or '.join(f'{s}://' for s in schemes)}")
            return default
        return raw

    def _bounded(self, name: str, raw: str, value: N, default: N, minimum: N | None, maximum: N | None) -> N:
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            return self._bad(name, raw, f"must be between {minimum} and {maximum}", default)
        if minimum is not None and value < minimum:
            return self._bad(name, raw, f"must be at least {minimum}", default)
        if maximum is not None and value > maximum:
            return self._bad(name, raw, f"must be at most {maximum}", default)
        return value

    def _bad(self, name: str, raw: str, message: str, default: T) -> T:
        shown = raw if len(raw) <= SHOWN_CHARACTERS else raw[:SHOWN_CHARACTERS] + "…"
        self.problem(name, f"{shown!r} {message}")
        return default
