"""What the help center did for customers: the articles that solved their problem, and those tried before a case.

"Did this solve it?" - Yes: one ``helpful_articles`` row, with the article, the language it was
read in, and when. Nothing about who said it is kept, so these rows outlive erasure and
retention: they count articles, not customers. No: the case that follows names the articles
the customer was shown in its details, under ``ARTICLES_TRIED`` (article ids, best first).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import Engine

from bot.cases.schema import UtcDateTime
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()
ARTICLE_ID_LENGTH = 80
ARTICLES_TRIED = "articles_tried"  # the case detail

helpful_articles = Table(
    "helpful_articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(ARTICLE_ID_LENGTH), nullable=False),
    Column("language", String(8), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_helpful_articles_article", "article_id", "language"),
)


class HelpfulArticles:
    """Records an article as helpful, and counts how often each one was."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def record(self, article_id: str, language: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(helpful_articles).values(
                    article_id=article_id[:ARTICLE_ID_LENGTH], language=language, at=utcnow()
                )
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """``(article id, language)`` -> how many customers said it solved their problem."""
        t = helpful_articles.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.article_id, t.language, func.count()).group_by(t.article_id, t.language))
            return {(row[0], row[1]): int(row[2]) for row in rows}
