"""``python -m bot.helpcenter.check`` (``make helpcenter-check``): is the help center fit to publish?

Checks what the loader alone does not: every article in all three languages, intents that
exist in the domain, links between articles that lead somewhere, and enough articles to
cover the problems customers bring.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from bot.helpcenter.articles import LANGUAGES
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.library import Library, read_library
from bot.helpcenter.settings import HelpCenterSettings
from bot.settings import PROJECT_ROOT

DOMAIN_FILE = PROJECT_ROOT / "bot" / "domain.yml"
MIN_ARTICLES = 25
# Issue 14: every P3/P4 intent and the informational side of P2 has at least one article.
INTENTS_NEEDING_ARTICLES = (
    "withdrawal_stuck",
    "deposit_missing",
    "phishing_report",
    "login_failure",
    "two_factor_issue",
    "kyc_verification",
    "trade_issue",
    "api_issue",
    "app_technical",
    "account_change",
    "fees_and_limits",
    "listing_info",
)
# A relative Markdown link to another article: [text](some-id) or [text](some-id#part).
ARTICLE_LINK = re.compile(r"\]\(([a-z0-9]+(?:-[a-z0-9]+)*)(?:#[^)]*)?\)")


def domain_intents(domain_file: Path = DOMAIN_FILE) -> frozenset[str]:
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8"))
    return frozenset(str(entry) if not isinstance(entry, dict) else next(iter(entry)) for entry in domain["intents"])


def problems(library: Library, valid_intents: Iterable[str]) -> list[str]:
    """Everything wrong with the help center, one line each; empty when it may be published."""
    valid = frozenset(valid_intents)
    found = list(library.problems)
    ids_per_language = {language: set(library.articles[language]) for language in LANGUAGES}
    all_ids = set().union(*ids_per_language.values())
    for language, ids in ids_per_language.items():
        found += [f"{article_id}: missing in {language}" for article_id in sorted(all_ids - ids)]
    for article in library:
        where = f"{article.language}/{article.id}"
        found += [f"{where}: intent {name!r} is not in the domain" for name in article.intents if name not in valid]
        found += [
            f"{where}: links to {target!r}, which is no article"
            for target in ARTICLE_LINK.findall(article.body)
            if target not in ids_per_language[article.language]
        ]
        for language in LANGUAGES:
            twin = library.get(language, article.id)
            if twin is not None and set(twin.intents) != set(article.intents):
                found.append(f"{where}: intents differ from {language}/{article.id}")
    complete = set.intersection(*ids_per_language.values())
    if len(complete) < MIN_ARTICLES:
        found.append(f"{len(complete)} articles exist in every language; at least {MIN_ARTICLES} are needed")
    covered = {intent for article in library for intent in article.intents}
    found += [f"no article for intent {intent!r}" for intent in INTENTS_NEEDING_ARTICLES if intent not in covered]
    return sorted(set(found), key=found.index)


def main() -> int:
    settings = HelpCenterSettings.from_env()
    try:
        library = read_library(settings)
    except HelpCenterError as error:
        print(error, file=sys.stderr)
        return 1
    found = problems(library, domain_intents())
    for problem in found:
        print(problem, file=sys.stderr)
    count = len(set.intersection(*(set(library.articles[language]) for language in LANGUAGES)))
    example_note = " (the facts file still holds the shipped EXAMPLE values)" if library.facts.example_values else ""
    if found:
        print(f"help center: {len(found)} problem(s)", file=sys.stderr)
        return 1
    print(f"help center OK: {count} articles in {', '.join(LANGUAGES)}{example_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
