"""Ranking articles for a customer's question: BM25 and sentence embeddings, fused by reciprocal rank.

- **BM25** (`rank_bm25`) over each article's title, keywords and short answer, with the
  Korean/Chinese-aware terms of `bot.helpcenter.tokens`. The page text is left out: it
  measured worse (its cross-references and general advice match many questions).
- **Embeddings**: multilingual-e5-small (the NLU's encoder, shipped in a wheel) of title and
  keywords as a "passage", compared with the question as a "query".
- **Fusion**: reciprocal rank fusion (Cormack et al. 2009, k=60) of the two rankings.

Within the customer's language first: only that language's articles are ranked, and a word of
the question is looked up in them; a word none of them has (say, English coin talk from a
Korean customer) is looked up in the other languages' versions of the same articles. An
article counts as an answer only if a word of the question (other than a lone Chinese
character) occurs in it or its embedding is close enough.

The figures behind these choices are in the README (`python -m bench.helpcenter_report`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from rank_bm25 import BM25Okapi

from bot.helpcenter.articles import LANGUAGES, Article
from bot.helpcenter.library import Library, LiveLibrary
from bot.helpcenter.tokens import terms

RRF_K = 60
URL_OR_EMAIL = re.compile(r"https?://[\w./?=&%#~:+-]+|[A-Za-z0-9.+_-]+@[A-Za-z0-9.-]+", re.ASCII)
MIN_SIMILARITY = 0.85  # cosine of question and title+keywords below which an article needs a shared word


class Embedder(Protocol):
    def embed(self, texts: Sequence[str], *, as_query: bool = True) -> np.ndarray: ...


class VectorCache(Protocol):
    """Where passage embeddings outlive the process (`bot.nlu_components.embedding_cache.EmbeddingCache`)."""

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, vectors: dict[str, np.ndarray]) -> None: ...


@dataclass(frozen=True)
class Hit:
    """An article that answers the question, with its page's URL and its fused score."""

    article: Article
    url: str
    score: float


def search_text(article: Article) -> str:
    """What BM25 reads of an article: its words, not the addresses it quotes (every "…/fees" is no fee)."""
    return URL_OR_EMAIL.sub(" ", "\n".join([article.title, " ".join(article.keywords), article.summary]))


def passage_text(article: Article) -> str:
    """What the embedding reads of an article: short, since the encoder's time grows with length."""
    return f"{article.title}. {', '.join(article.keywords)}"


class SearchIndex:
    """The rankers for one reading of the library."""

    def __init__(self, library: Library, passages: dict[str, np.ndarray] | None) -> None:
        self.library = library
        self._articles = {language: library.in_language(language) for language in LANGUAGES}
        self._bm25 = {
            language: BM25Okapi([terms(search_text(a)) for a in articles]) if articles else None
            for language, articles in self._articles.items()
        }
        self._passages = passages  # passage text -> unit vector; None: BM25 alone

    @property
    def uses_embeddings(self) -> bool:
        return self._passages is not None

    def rank(self, question: str, language: str, question_vector: np.ndarray | None) -> list[tuple[Article, float]]:
        """The language's articles that answer ``question``, best first, with their fused scores."""
        articles = self._articles.get(language, [])
        if not articles:
            return []
        words = terms(question)
        lexical = self._lexical_scores(words, language, articles)
        rankings = [_ranks(lexical)]
        # Single Han characters help ranking but are too common (的, 了, 我) to show an answer.
        relevant = self._lexical_scores([w for w in words if len(w) > 1 or w.isascii()], language, articles) > 0
        if self._passages is not None and question_vector is not None:
            similarity = np.array([self._passages[passage_text(a)] @ question_vector for a in articles])
            rankings.append(_ranks(similarity, keep=np.ones(len(articles), dtype=bool)))
            relevant |= similarity >= MIN_SIMILARITY
        fused = np.zeros(len(articles))
        for rank in rankings:
            fused += np.where(rank > 0, 1.0 / (RRF_K + rank), 0.0)
        order = sorted((i for i in range(len(articles)) if relevant[i]), key=lambda i: (-fused[i], articles[i].id))
        return [(articles[i], float(fused[i])) for i in order]

    def _lexical_scores(self, words: list[str], language: str, articles: list[Article]) -> np.ndarray:
        """BM25 of the words found in the customer's language, plus the rest looked up in the other languages.

        A word no article of the customer's language has (English coin talk from a Korean
        customer) scores the same articles through their versions that have it.
        """
        bm25 = self._bm25[language]
        if bm25 is None or not words:
            return np.zeros(len(articles))
        own = [w for w in words if w in bm25.idf]
        foreign = [w for w in words if w not in bm25.idf]
        scores = np.asarray(bm25.get_scores(own), dtype=float) if own else np.zeros(len(articles))
        if not foreign:
            return scores
        elsewhere = np.zeros(len(articles))
        for other in LANGUAGES:
            other_bm25 = self._bm25[other]
            if other == language or other_bm25 is None:
                continue
            by_id = dict(zip((a.id for a in self._articles[other]), other_bm25.get_scores(foreign), strict=True))
            elsewhere = np.maximum(elsewhere, [by_id.get(a.id, 0.0) for a in articles])
        return scores + elsewhere


def _ranks(scores: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """1 for the best score, 2 for the next...; 0 (no contribution) where ``keep`` is false (default: score 0)."""
    keep = scores > 0 if keep is None else keep
    ranks = np.zeros(len(scores), dtype=int)
    for position, index in enumerate(i for i in np.argsort(-scores, kind="stable") if keep[i]):
        ranks[index] = position + 1
    return ranks


class HelpSearch:
    """Searches the library as it is now; rebuilds its index after the library rereads its files.

    Passage embeddings are remembered by text, so a reread embeds only the articles that changed
    (and, with a `VectorCache`, a restart embeds none). Questions are never stored.
    """

    def __init__(
        self,
        live: LiveLibrary,
        embedder: Embedder | None = None,
        cache: VectorCache | None = None,
    ) -> None:
        self._live = live
        self._embedder = embedder
        self._cache = cache
        self._vectors: dict[str, np.ndarray] = {}
        self._index: SearchIndex | None = None
        self._generation = -1
        self._lock = threading.Lock()

    def index(self) -> SearchIndex:
        library = self._live.current()
        with self._lock:
            if self._index is None or self._live.generation != self._generation:
                self._index = SearchIndex(library, self._passages(library))
                self._generation = self._live.generation
            return self._index

    def search(self, question: str, language: str, limit: int = 3) -> list[Hit]:
        """Up to ``limit`` articles in ``language`` (English if it has none) that answer ``question``."""
        index = self.index()
        language = language if language in LANGUAGES else "en"
        vector = None
        if self._embedder is not None and index.uses_embeddings and question.strip():
            vector = self._embedder.embed([question], as_query=True)[0]
        settings = self._live.settings
        return [
            Hit(article=article, url=settings.article_url(article.language, article.id), score=score)
            for article, score in index.rank(question, language, vector)[:limit]
        ]

    def _passages(self, library: Library) -> dict[str, np.ndarray] | None:
        if self._embedder is None:
            return None
        texts = sorted({passage_text(article) for article in library})
        missing = [text for text in texts if text not in self._vectors]
        if missing and self._cache is not None:
            self._vectors.update(self._cache.get_many(missing))
            missing = [text for text in missing if text not in self._vectors]
        if missing:
            fresh = dict(zip(missing, self._embedder.embed(missing, as_query=False), strict=True))
            self._vectors.update(fresh)
            if self._cache is not None:
                self._cache.put_many(fresh)
        self._vectors = {text: self._vectors[text] for text in texts}  # forget removed articles
        return dict(self._vectors)
