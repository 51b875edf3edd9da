"""Checks on the held-out NLU evaluation data (no Rasa import needed)."""
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
TEST_FILE = os.path.join(DATA, "nlu_test.yml")
PARAPHRASE_FILE = os.path.join(DATA, "nlu_stress_paraphrase.yml")
TYPOS_FILE = os.path.join(DATA, "nlu_stress_typos.yml")
ML_TRAIN_FILE = os.path.join(ROOT, "nlu", "multilingual.yml")
ML_TEST_FILE = os.path.join(DATA, "nlu_multilingual_test.yml")

PROBLEM_INTENTS = [
    "suspected_theft", "account_locked", "phishing_report", "withdrawal_stuck",
    "deposit_missing", "login_failure", "two_factor_issue", "kyc_verification",
    "trade_issue", "api_issue", "app_technical", "account_change",
    "fees_and_limits", "listing_info",
]
CONTRACT_INTENTS = set(PROBLEM_INTENTS) | {
    "request_human", "ticket_status", "cancel", "inform", "greet", "goodbye",
    "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
}
NGRAM = 5


def load_examples(path):
    """Return [(intent, example_text), ...] in file order from a Rasa NLU YAML file."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    out = []
    for item in doc.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue  # synonyms, regexes, lookups
        block = item.get("examples") or ""
        lines = block.splitlines() if isinstance(block, str) else [
            e.get("text", "") if isinstance(e, dict) else str(e) for e in block]
        for line in lines:
            text = re.sub(r"^\s*-\s?", "", line).strip()
            if text:
                out.append((item["intent"], text))
    return out


def words(text):
    text = re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", text)  # [text](ent) / [text]{...}
    text = re.sub(r"['\u2019]", "", text.lower())
    return re.sub(r"[^\w\s]|_", " ", text).split()


def ngrams(text):
    w = words(text)
    return {tuple(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1)}


def counts(examples):
    c = {}
    for intent, _ in examples:
        c[intent] = c.get(intent, 0) + 1
    return c


def test_no_five_word_overlap_with_training_data():
    train_files = sorted(glob.glob(os.path.join(ROOT, "nlu", "*.yml"))
                         + glob.glob(os.path.join(ROOT, "nlu", "*.yaml")))
    train = [ex for p in train_files for ex in load_examples(p)]
    if not train:
        pytest.fail("no training examples found in nlu/*.yml: training data is required "
                    "before the held-out test set can be checked for overlap")
    train_grams = {}
    for intent, text in train:
        for g in ngrams(text):
            train_grams.setdefault(g, (intent, text))
    overlaps = []
    for intent, text in load_examples(TEST_FILE):
        for g in sorted(ngrams(text)):
            if g in train_grams:
                overlaps.append(f"[{intent}] {text!r} shares {' '.join(g)!r} with "
                                f"training [{train_grams[g][0]}] {train_grams[g][1]!r}")
                break
    assert not overlaps, "test sentences overlap training data:\n" + "\n".join(overlaps)


def test_test_set_intents_and_counts():
    c = counts(load_examples(TEST_FILE))
    unknown = set(c) - CONTRACT_INTENTS
    assert not unknown, f"intents outside the contract: {sorted(unknown)}"
    short = {i: c.get(i, 0) for i in PROBLEM_INTENTS if c.get(i, 0) < 15}
    assert not short, f"problem intents with fewer than 15 test examples: {short}"


def test_stress_files_mirror_each_other():
    para, typos = load_examples(PARAPHRASE_FILE), load_examples(TYPOS_FILE)
    assert counts(para) == counts(typos)
    assert set(counts(para)) <= CONTRACT_INTENTS
    assert [i for i, _ in para] == [i for i, _ in typos], "typos file must mirror line by line"
    for (_, p), (_, t) in zip(para, typos, strict=True):
        assert t == t.lower() and not re.search(r"[^\w\s]", t), f"not lowercase/unpunctuated: {t!r}"
        assert words(p) != words(t), f"no typo introduced: {t!r}"


def test_multilingual_train_and_test_are_disjoint():
    train, test = load_examples(ML_TRAIN_FILE), load_examples(ML_TEST_FILE)
    assert set(counts(train)) | set(counts(test)) <= CONTRACT_INTENTS
    shared = {t for _, t in train} & {t for _, t in test}
    assert not shared, f"sentences in both multilingual train and test: {sorted(shared)}"
