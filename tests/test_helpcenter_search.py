"""Searching the help center: language first, links, reloads, and passage embeddings computed once."""

import pytest

from bot.helpcenter.library import LiveLibrary
from bot.helpcenter.search import HelpSearch
from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import DIMENSIONS, shared_encoder
from tests.auxil.helpcenter import copied_help_center, rewrite, write_later


def ids(hits):
    return [hit.article.id for hit in hits]


@pytest.fixture
def bm25_search(tmp_path):
    return HelpSearch(LiveLibrary(copied_help_center(tmp_path, base_url="https://help.example/center")))


def test_answers_come_from_the_customers_language_with_links_to_their_pages(bm25_search):
    hits = bm25_search.search("출금 수수료가 얼마예요? 최소 출금 금액도 알려주세요", "ko")
    assert ids(hits)[0] == "withdrawal-fees" and len(hits) <= 3
    assert all(hit.article.language == "ko" for hit in hits)
    assert hits[0].url == "https://help.example/center/ko/withdrawal-fees"
    assert hits[0].article.summary.startswith("출금할 때마다")


def test_words_found_only_in_another_language_still_lead_to_the_customers_own_article(bm25_search):
    hits = bm25_search.search("withdrawal fee minimum", "zh")
    assert ids(hits)[0] == "withdrawal-fees" and hits[0].article.language == "zh"


def test_a_question_sharing_no_word_with_any_article_gets_no_answer(bm25_search):
    assert bm25_search.search("asdf qwer zxcv", "en") == []
    assert bm25_search.search("   ", "ko") == []


def test_an_unknown_language_is_searched_in_english(bm25_search):
    assert ids(bm25_search.search("reset password", "fr"))[0] == "password-reset"


def test_an_article_added_while_running_is_found(tmp_path):
    settings = copied_help_center(tmp_path)
    search = HelpSearch(LiveLibrary(settings))
    assert "staking" not in ids(search.search("staking rewards", "en"))
    text = (settings.directory / "en" / "listings.md").read_text(encoding="utf-8")
    text = text.replace("id: listings", "id: staking").replace(
        "title: How new coins are listed", "title: Staking rewards and how they are paid"
    )
    write_later(settings.directory / "en" / "staking.md", text)
    assert ids(search.search("staking rewards", "en"))[0] == "staking"


@pytest.fixture
def small_help_center(tmp_path):
    """Three articles per language keep the real encoder's work small."""
    settings = copied_help_center(tmp_path)
    keep = {"withdrawal-fees.md", "password-reset.md", "listings.md"}
    for path in settings.directory.glob("*/*.md"):
        if path.name not in keep:
            path.unlink()
    return settings


def test_passages_are_embedded_once_and_again_only_when_their_article_changes(small_help_center, tmp_path):
    encoder = shared_encoder(None, 1)
    cache = EmbeddingCache(tmp_path / "cache", f"{encoder.digest}:passage", DIMENSIONS)
    search = HelpSearch(LiveLibrary(small_help_center), encoder, cache)
    before = encoder.texts_embedded
    assert ids(search.search("how much does it cost to withdraw bitcoin", "en"))[0] == "withdrawal-fees"
    assert encoder.texts_embedded - before == 9 + 1  # nine passages, one question

    rewrite(small_help_center.directory / "ko" / "listings.md", "title: 신규 코인", "title: 새로운 코인")
    before = encoder.texts_embedded
    assert ids(search.search("새로운 코인 상장 공지는 어디서 보나요", "ko"))[0] == "listings"
    assert encoder.texts_embedded - before == 1 + 1  # the changed passage, the question

    restarted = HelpSearch(LiveLibrary(small_help_center), encoder, cache)
    before = encoder.texts_embedded
    assert ids(restarted.search("忘记密码怎么办", "zh"))[0] == "password-reset"
    assert encoder.texts_embedded - before == 1  # the question only: passages come from the cache

