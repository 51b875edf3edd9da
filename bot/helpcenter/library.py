"""All articles of the help center, read from their folders, and reread when a file changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.helpcenter.articles import LANGUAGES, Article, parse_article
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.facts import Facts, load_facts
from bot.helpcenter.settings import HelpCenterSettings

logger = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Library:
    """The articles that could be read, by language and id, and the problems of those that could not."""

    facts: Facts
    articles: dict[str, dict[str, Article]]  # language -> id -> article
    problems: tuple[str, ...] = ()

    def get(self, language: str, article_id: str) -> Article | None:
        return self.articles.get(language, {}).get(article_id)

    def in_language(self, language: str) -> list[Article]:
        """The language's articles, ordered by id so that every reader sees the same order."""
        return [self.articles[language][i] for i in sorted(self.articles.get(language, {}))]

    def __iter__(self) -> Iterator[Article]:
        for language in LANGUAGES:
            yield from self.in_language(language)


def read_library(settings: HelpCenterSettings) -> Library:
    """Read every ``<language>/<id>.md``; a file that fails is left out and its problem recorded.

    A facts file that cannot be read raises `HelpCenterError`: without it no article can be filled.
    """
    facts = load_facts(settings.facts_file, settings.official_domains, settings.support_handles)
    articles: dict[str, dict[str, Article]] = {language: {} for language in LANGUAGES}
    problems: list[str] = []
    for path in _article_files(settings.directory):
        try:
            article = parse_article(path, facts)
        except HelpCenterError as error:
            problems.append(str(error))
            continue
        articles[article.language][article.id] = article
    return Library(facts=facts, articles=articles, problems=tuple(problems))


def _article_files(directory: Path) -> list[Path]:
    return sorted(path for language in LANGUAGES for path in (directory / language).glob("*.md"))


def fingerprint(settings: HelpCenterSettings) -> Fingerprint:
    """Name, modification time and size of every file the library is read from: cheap to compare."""
    entries = []
    for path in [settings.facts_file, *_article_files(settings.directory)]:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


@dataclass
class LiveLibrary:
    """The library as the files are now: reread when a file is added, changed or removed.

    The files are looked at no more often than ``settings.reload_check_seconds``. A reread
    that fails (say, a half-edited facts file) keeps the library read before and logs why.
    """

    settings: HelpCenterSettings
    _library: Library | None = None
    _fingerprint: Fingerprint | None = None
    _checked_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0  # counts rereads, so that a search index knows when to rebuild

    def current(self) -> Library:
        with self._lock:
            now = time.monotonic()
            if self._library is not None and now - self._checked_at < self.settings.reload_check_seconds:
                return self._library
            self._checked_at = now
            seen = fingerprint(self.settings)
            if self._library is not None and seen == self._fingerprint:
                return self._library
            try:
                library = read_library(self.settings)
            except HelpCenterError:
                if self._library is None:
                    raise
                logger.exception("help center not reloaded; still serving the articles read before")
                return self._library
            for problem in library.problems:
                logger.warning("help-center article left out: %s", problem)
            self._library, self._fingerprint = library, seen
            self.generation += 1
            return library
