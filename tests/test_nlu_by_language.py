"""The NLU gate per language: English, Korean and Simplified Chinese sentences written apart.

`tests/data/nlu_by_language.yml` was written by a helper who never saw `nlu/` (issue 14).
Scores the model `make run` serves, parsed in this process as the server parses a message,
with the bars and the scoring of `tests/test_nlu_quality.py` (`rasa test nlu`'s: the P1
safety net's routing counts, a fallback counts as the intent it shadowed). The figures are
computed by `bench.by_language`, the same code the README's "Languages" figures come from;
the table printed also shows the stricter "routed without a question" figures.
Each language must reach the gate on its own: a strong language cannot carry a weak one.
"""

import pytest

from bench.by_language import LANGUAGES, figures, score_all, table

pytestmark = pytest.mark.slow

MACRO_F1_GATE = 0.90
P1_RECALL_GATE = 0.97
MIN_SENTENCES = 150  # per language: below this one sentence moves a figure too much to gate on


@pytest.fixture(scope="module")
def by_language(served_agent):
    """Every held-out sentence parsed once by the served model, scored per language (the table printed)."""
    scored = figures(score_all(served_agent))
    print("\n" + table(scored))
    return scored


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_enough_sentences_for_every_problem_intent(by_language, language):
    measured = by_language[language]
    assert measured["sentences"] >= MIN_SENTENCES
    assert all(v["sentences"] >= 8 for v in measured["per_intent"].values()), measured["per_intent"]
    assert measured["p1_sentences"] >= 20


@pytest.mark.parametrize("language", LANGUAGES)
def test_problem_intents_are_told_apart_in_each_language(by_language, language):
    measured = by_language[language]
    weak = {intent: v for intent, v in measured["per_intent"].items() if v["f1"] < MACRO_F1_GATE}
    assert measured["macro_f1"] >= MACRO_F1_GATE, (table(by_language), weak, measured["confusions"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_p1_problems_open_as_p1_in_each_language(by_language, language):
    measured = by_language[language]
    missed = {k: n for k, n in measured["confusions"].items()
              if k.split(" -> ")[0] in ("suspected_theft", "account_locked", "phishing_report")}
    assert measured["p1_recall"] >= P1_RECALL_GATE, (table(by_language), missed)
