"""One help-center article: a Markdown file whose YAML front matter says what it is.

The front matter holds ``id``, ``title``, ``language``, ``intents``, ``keywords``, ``updated``
and ``summary`` (the short answer the bot sends); the Markdown after it is the page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.facts import Facts

LANGUAGES = ("en", "ko", "zh")
FIELDS = ("id", "title", "language", "intents", "keywords", "updated", "summary")
ARTICLE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
MAX_SUMMARY_CHARS = 500  # a chat message, not a page
# Chinese is written without spaces, so a line break inside a Chinese sentence (or YAML's folding
# of one into a space) must vanish rather than show as a space. Korean keeps its spaces.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WIDE_PUNCTUATION = "\u3000-\u303f\uff00-\uffef"
_CJK = _HAN + _WIDE_PUNCTUATION


def _unfold_chinese_lines(markdown: str) -> str:
    """Join a line that continues a Chinese sentence to the line before (Markdown's blocks start otherwise)."""
    return re.sub(rf"(?<=[{_CJK}])[ \t]*\n[ \t]*(?=[{_CJK}])", "", markdown)


def _unfold_chinese_spaces(text: str) -> str:
    """Drop the spaces YAML folded line breaks into, between Chinese characters or next to full-width punctuation."""
    return re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])|(?<=[{_WIDE_PUNCTUATION}]) | (?=[{_WIDE_PUNCTUATION}])", "", text)


@dataclass(frozen=True)
class Article:
    """An article with its placeholders filled."""

    id: str
    language: str
    title: str
    intents: tuple[str, ...]
    keywords: tuple[str, ...]
    updated: dt.date
    summary: str
    body: str  # Markdown
    source: Path


def parse_article(path: Path, facts: Facts) -> Article:
    """Read and check one file; every problem found is in the one `HelpCenterError` raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HelpCenterError(f"{path}: cannot read: {error}") from error
    match = FRONT_MATTER.match(text)
    if match is None:
        raise HelpCenterError(f"{path}: must start with front matter between two '---' lines")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise HelpCenterError(f"{path}: front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise HelpCenterError(f"{path}: front matter must be a mapping")
    body = _unfold_chinese_lines(text[match.end() :].strip())
    problems = _front_matter_problems(meta, path)
    if not body:
        problems.append("the article has no text after the front matter")
    unknown = sorted(
        set(facts.unknown_names(body))
        | {name for field in ("title", "summary") for name in facts.unknown_names(str(meta.get(field, "")))}
    )
    if unknown:
        problems.append(f"unknown placeholder(s): {', '.join(unknown)} (add them to the facts file)")
    if problems:
        raise HelpCenterError(f"{path}: " + "; ".join(problems))
    summary = facts.fill(_unfold_chinese_spaces(" ".join(str(meta["summary"]).split())))
    if len(summary) > MAX_SUMMARY_CHARS:
        raise HelpCenterError(
            f"{path}: summary is {len(summary)} characters once filled; keep it to {MAX_SUMMARY_CHARS}"
        )
    return Article(
        id=meta["id"],
        language=meta["language"],
        title=facts.fill(str(meta["title"]).strip()),
        intents=tuple(meta["intents"]),
        keywords=tuple(str(k).strip() for k in meta["keywords"]),
        updated=meta["updated"],
        summary=summary,
        body=facts.fill(body),
        source=path,
    )


def _front_matter_problems(meta: dict[str, Any], path: Path) -> list[str]:
    problems = [f"missing {name}" for name in FIELDS if name not in meta]
    problems += [f"unknown field {name!r}" for name in meta if name not in FIELDS]
    article_id, language = meta.get("id"), meta.get("language")
    if "id" in meta and (not isinstance(article_id, str) or not ARTICLE_ID.fullmatch(article_id)):
        problems.append(f"id {article_id!r} must be lower-case words joined by '-'")
    elif "id" in meta and article_id != path.stem:
        problems.append(f"id {article_id!r} differs from the file name {path.name!r}")
    if "language" in meta and language not in LANGUAGES:
        problems.append(f"language {language!r} must be one of {', '.join(LANGUAGES)}")
    elif "language" in meta and language != path.parent.name:
        problems.append(f"language {language!r} differs from its folder {path.parent.name!r}")
    for name, kinds in (("intents", (str,)), ("keywords", (str, int, float))):
        value = meta.get(name)
        if name in meta and (
            not isinstance(value, list) or not value or not all(isinstance(v, kinds) and str(v).strip() for v in value)
        ):
            problems.append(f"{name} must be a non-empty list of words")
    if "updated" in meta and not isinstance(meta["updated"], dt.date):
        problems.append("updated must be a date (YYYY-MM-DD)")
    for name in ("title", "summary"):
        if name in meta and (not isinstance(meta[name], str) or not meta[name].strip()):
            problems.append(f"{name} must be text")
    return problems
