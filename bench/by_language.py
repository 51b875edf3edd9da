"""Score a trained model per language on sentences written apart from the training data.

`tests/data/nlu_by_language.yml` holds English, Korean and Simplified Chinese customer
messages for each problem intent, written by a helper who never saw `nlu/` (issue 14;
`tests/test_nlu_data.py` keeps them apart). Each sentence is parsed as the server parses
a message. Per language (`metadata: {language: ...}` of each block):

- macro-F1 over the problem intents: per-intent F1 within the language, averaged;
- P1 recall: of the sentences whose case must open as P1 (suspected_theft, account_locked,
  and a phishing report where credentials or keys were entered), the share whose case
  opens as P1 (`priority_for` of the intent and the message's words, as
  `action_start_case` decides). Which phishing reports entered credentials is read by the
  bot's own detector (`credentials_exposed`), so that part scores the intent only.

Each sentence is scored twice:
- "scored" (the gate, as `rasa test nlu` and so `tests/test_nlu_quality.py` score): the
  prediction after the P1 safety net's routing, a fallback counted as the intent it shadowed
  (Rasa's `undo_fallback_prediction`). Where the safety net asks "did money or access leave
  your control?", that is the classifier's intent.
- "routed" (stricter, reported beside it): where the message goes without a question;
  the fallback and the P1 question count as misses, as in `bench.real_slice`.

    python -m bench.by_language [--model models/support-....tar.gz]   # the figures as JSON
"""
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rasa.nlu.classifiers.fallback_classifier import undo_fallback_prediction
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME

from bench.served_agent import load_agent, parse_texts, print_scores
from bot.actions.families import PROBLEM_INTENTS, credentials_exposed, theft_signs
from bot.cases.priorities import P1, priority_for

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "tests" / "data" / "nlu_by_language.yml"
LANGUAGES = ("en", "ko", "zh")
SCORED_INTENTS = tuple(sorted(PROBLEM_INTENTS))


@dataclass(frozen=True)
class Scored:
    """One held-out sentence: its language, gold intent, and what the bot made of it."""

    language: str
    gold: str
    scored: str  # as `rasa test nlu` scores it: a fallback counted as the intent it shadowed
    routed: str  # where it goes without a question (nlu_fallback: the bot asks first)
    must_be_p1: bool
    scored_p1: bool
    routed_p1: bool


def held_out() -> list[tuple[str, str, str]]:
    """(language, gold intent, text) of every sentence."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [(((m.get("metadata") or {}).get("intent") or {}).get("language"), m.get("intent"), m.get("text"))
            for m in load_data(str(TEST_SET)).intent_examples]


def must_be_p1(gold: str, text: str) -> bool:
    """The spec's P1 problems: theft, a locked account, credentials entered on a phishing site."""
    return gold in ("suspected_theft", "account_locked") or (gold == "phishing_report" and credentials_exposed(text))


def opens_as_p1(intent: str, text: str) -> bool:
    return priority_for(intent, credentials_exposed=credentials_exposed(text), theft_signs=theft_signs(text)) == P1


def score_all(agent) -> list[Scored]:
    rows = held_out()
    parsed = parse_texts(agent, [text for _, _, text in rows])
    out = []
    for (language, gold, text), data in zip(rows, parsed, strict=True):
        routed = data["intent"]["name"]
        scored = undo_fallback_prediction(data)["intent"]["name"] if routed == DEFAULT_NLU_FALLBACK_INTENT_NAME \
            else routed
        out.append(Scored(language, gold, scored, routed, must_be_p1(gold, text), opens_as_p1(scored, text),
                          opens_as_p1(routed, text)))
    return out


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def intent_scores(pairs: list[tuple[str, str]]) -> dict[str, dict]:
    """Per problem intent: sentences, precision, recall and F1 over (gold, predicted) pairs."""
    per_intent = {}
    for intent in SCORED_INTENTS:
        gold = sum(g == intent for g, _ in pairs)
        predicted = sum(p == intent for _, p in pairs)
        hits = sum(g == intent and p == intent for g, p in pairs)
        precision = hits / predicted if predicted else 0.0
        recall = hits / gold if gold else 0.0
        per_intent[intent] = {"sentences": gold, "precision": round(precision, 3), "recall": round(recall, 3),
                              "f1": round(f1(precision, recall), 3)}
    return per_intent


def macro_f1(per_intent: dict[str, dict]) -> float:
    present = [v["f1"] for v in per_intent.values() if v["sentences"]]
    return round(sum(present) / len(present), 4) if present else 0.0


def share(hits: int, of: int) -> float:
    return round(hits / of, 4) if of else float("nan")


def language_figures(rows: list[Scored]) -> dict:
    """Macro-F1 over the problem intents, P1 recall, per-intent figures and confusions of one language."""
    per_intent = intent_scores([(r.gold, r.scored) for r in rows])
    p1 = [r for r in rows if r.must_be_p1]
    return {
        "sentences": len(rows),
        "macro_f1": macro_f1(per_intent),
        "p1_sentences": len(p1),
        "p1_opened_as_p1": sum(r.scored_p1 for r in p1),
        "p1_recall": share(sum(r.scored_p1 for r in p1), len(p1)),
        "non_p1_opened_as_p1": sum(r.scored_p1 for r in rows if not r.must_be_p1),
        "routed_macro_f1": macro_f1(intent_scores([(r.gold, r.routed) for r in rows])),
        "routed_p1_recall": share(sum(r.routed_p1 for r in p1), len(p1)),
        "asked": sum(r.routed == DEFAULT_NLU_FALLBACK_INTENT_NAME for r in rows),  # P1 question or issue buttons
        "per_intent": per_intent,
        "confusions": dict(Counter(f"{r.gold} -> {r.scored}" for r in rows if r.scored != r.gold).most_common()),
        "routed_confusions": dict(Counter(f"{r.gold} -> {r.routed}" for r in rows if r.routed != r.gold)
                                  .most_common()),
    }


def figures(rows: list[Scored]) -> dict[str, dict]:
    return {language: language_figures([r for r in rows if r.language == language]) for language in LANGUAGES}


def table(by_language: dict[str, dict]) -> str:
    """The per-language figures as a small text table (the test prints it)."""
    lines = ["language  sentences  macro-F1  P1 recall      | routed: macro-F1  P1 recall  asked  "
             "| weakest intents (F1)"]
    for language, f in by_language.items():
        weakest = sorted(f["per_intent"].items(), key=lambda item: item[1]["f1"])[:3]
        lines.append(f"{language:<9} {f['sentences']:>9}  {f['macro_f1']:>8.3f}  "
                     f"{f['p1_recall']:>5.3f} ({f['p1_opened_as_p1']}/{f['p1_sentences']})  "
                     f"| {f['routed_macro_f1']:>16.3f}  {f['routed_p1_recall']:>9.3f}  {f['asked']:>5}  | "
                     + ", ".join(f"{intent} {v['f1']:.2f}" for intent, v in weakest))
    return "\n".join(lines)


async def evaluate(model: Path) -> dict:
    return figures(score_all(load_agent(model)))


if __name__ == "__main__":
    print_scores(__doc__, evaluate)
