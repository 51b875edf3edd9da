"""The actions' way to the help center: one search per action server, built on first use, and the helpful record.

The search is the shipped one (BM25 fused with the NLU's sentence embeddings, README "Help
center"). Its article passages are embedded once and kept in the on-disk embedding cache
(``NLU_EMBEDDING_CACHE_DIR``, ``var/embedding_cache``), so a restart embeds none; questions
are embedded per call and never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from bot.actions.case_access import case_store
from bot.cases.helpful_articles import HelpfulArticles
from bot.helpcenter.library import LiveLibrary
from bot.helpcenter.search import HelpSearch
from bot.helpcenter.settings import HelpCenterSettings
from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import DIMENSIONS, SentenceEncoder, shared_encoder
from bot.nlu_components.settings import EmbeddingSettings

logger = logging.getLogger(__name__)

QUESTION_TOKENS = 64  # a question is embedded up to here: the encoder's time grows with every token


class BoundedQuestions:
    """The encoder, with each question cut to ``QUESTION_TOKENS`` (a 4,000-character message must not stall a call)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder

    def embed(self, texts: Sequence[str], *, as_query: bool = True) -> np.ndarray:
        if as_query:
            texts = [self._encoder.clip(text, QUESTION_TOKENS) for text in texts]
        return self._encoder.embed(texts, as_query=as_query)


@lru_cache(maxsize=1)
def help_search() -> HelpSearch:
    """The process-wide search over ``HELPCENTER_DIR`` (call ``help_search.cache_clear()`` in tests)."""
    embedding = EmbeddingSettings.from_env()
    encoder = shared_encoder(None, embedding.threads)
    passages = EmbeddingCache(embedding.cache_dir, f"{encoder.digest}:passage", DIMENSIONS)
    return HelpSearch(LiveLibrary(HelpCenterSettings.from_env()), BoundedQuestions(encoder), passages)


@lru_cache(maxsize=1)
def helpful_articles() -> HelpfulArticles:
    """Where a Yes to "Did this solve it?" is recorded, in the case store's database."""
    return HelpfulArticles(case_store().engine)


def warm_up() -> None:
    """Load the encoder, read the articles and embed their passages now, not in the first customer's turn."""
    try:
        help_search().index()
    except Exception:  # the first search will fail the same way and say so to the customer's turn
        logger.exception("the help center could not be prepared; searches will try again")
