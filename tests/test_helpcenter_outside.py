"""The outside review's questions stay askable, and the bench counts top-1, top-3 and misses as it says."""
from bench.helpcenter_outside import questions, report
from bot.helpcenter.articles import LANGUAGES
from bot.helpcenter.library import read_library
from bot.helpcenter.settings import HelpCenterSettings


def test_every_question_names_an_article_of_its_language():
    asked = questions()
    articles = read_library(HelpCenterSettings()).articles
    assert set(asked) == set(LANGUAGES)
    for language in LANGUAGES:
        assert len(asked[language]) == 20
        assert {q["expect"] for q in asked[language]} <= set(articles[language])


def test_the_report_counts_first_and_linked_answers_and_lists_the_misses():
    right, second, nothing = ({"q": "fee?", "expect": "trading-fees"}, {"q": "slow", "expect": "withdrawal-delays"},
                              {"q": "zzz", "expect": "listings"})
    answered = {"en": [(right, ["trading-fees", "withdrawal-fees"]), (second, ["deposit-not-credited",
                                                                                "withdrawal-delays"]),
                       (nothing, [])]}
    printed = report(answered)
    assert "| en | 3 | 0.33 (1) | 0.67 (2) | 1 |" in printed
    assert "- en: 'slow' -> withdrawal-delays; deposit-not-credited, withdrawal-delays" in printed
    assert "- en: 'zzz' -> listings; nothing" in printed
    assert "'fee?'" not in printed
