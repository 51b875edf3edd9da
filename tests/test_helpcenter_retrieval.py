"""The retrieval gate (issue 14): customer questions written apart from the articles find their article.

Per language, the shipped search (BM25 and embeddings fused) must put the right article first
for at least 80 % of the questions and among the three the bot links for at least 95 %.
Questions and article passages are embedded once (about 10 s on a busy 2-core machine) and
kept in the on-disk embedding cache, so later runs take about a second.
"""

from collections import Counter

import pytest

from bench.helpcenter_report import RememberingEncoder, accuracy, questions
from bot.helpcenter.articles import LANGUAGES
from bot.helpcenter.library import LiveLibrary, read_library
from bot.helpcenter.search import HelpSearch
from bot.helpcenter.settings import HelpCenterSettings
from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import DIMENSIONS, shared_encoder
from bot.nlu_components.settings import EmbeddingSettings

TOP1, TOP3 = 0.80, 0.95


@pytest.fixture(scope="module")
def scores():
    settings = EmbeddingSettings.from_env()
    model = shared_encoder(None, settings.threads)
    encoder = RememberingEncoder(model, EmbeddingCache(settings.cache_dir, f"{model.digest}:query", DIMENSIONS))
    asked = questions()
    encoder.embed([q["text"] for q in asked])
    passages = EmbeddingCache(settings.cache_dir, f"{model.digest}:passage", DIMENSIONS)
    search = HelpSearch(LiveLibrary(HelpCenterSettings()), encoder, passages)
    return accuracy(lambda text, language: [hit.article.id for hit in search.search(text, language)], asked)


def test_the_questions_cover_every_article_in_every_language():
    counts = Counter((q["article"], q["language"]) for q in questions())
    ids = set(read_library(HelpCenterSettings()).articles["en"])
    assert {article for article, _ in counts} == ids
    assert all(counts[(article, language)] >= 3 for article in ids for language in LANGUAGES)
    assert sum(counts.values()) >= 225


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_right_article_comes_first_and_among_the_three_linked(scores, language):
    top1, top3 = scores[language]
    assert top1 >= TOP1, f"{language}: top-1 {top1:.3f}"
    assert top3 >= TOP3, f"{language}: top-3 {top3:.3f}"
