"""Score entity extraction on customer-style messages written apart from the training data.

`tests/data/nlu_entities_apart.yml` was written by a helper who never saw `nlu/` (the
5-word-overlap test keeps it so). A message's gold entities are compared with what the
parse returns, as (type, normalised value) multisets: a value the bot would store wrong
is a miss, and the same coin reported twice is a false positive. Only the five entities
agents need from a funds case are scored.

    python -m bench.entities_apart [--model models/support-....tar.gz]   # per-entity P/R/F1 as JSON
"""
import re
from collections import Counter
from pathlib import Path

from bench.served_agent import load_agent, parse_texts, print_scores

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "tests" / "data" / "nlu_entities_apart.yml"
SCORED = ("coin", "amount", "network", "txid", "account_id")


def normalised(entity: str, value: object) -> str:
    """The value as the case file keeps it: amounts without symbols or separators, tickers upper-case."""
    text = str(value).strip()
    if entity == "amount":
        return re.sub(r"[^\d.]", "", text).rstrip(".")
    if entity == "account_id":
        return re.sub(r"\D", "", text)
    return text.upper() if entity == "coin" else text.lower()


def bag(entities: list[dict]) -> Counter:
    return Counter((e["entity"], normalised(e["entity"], e.get("value", e.get("text", ""))))
                   for e in entities if e.get("entity") in SCORED)


def gold_messages() -> list[tuple[str, Counter]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(m.get("text"), bag(m.get("entities") or [])) for m in load_data(str(TEST_SET)).intent_examples]


def scores(pairs: list[tuple[Counter, Counter]]) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 per entity type over (gold, predicted) bags."""
    out = {}
    for entity in SCORED:
        tp = fp = fn = 0
        for gold, predicted in pairs:
            g = Counter({k: v for k, v in gold.items() if k[0] == entity})
            p = Counter({k: v for k, v in predicted.items() if k[0] == entity})
            hit = sum((g & p).values())
            tp, fp, fn = tp + hit, fp + sum(p.values()) - hit, fn + sum(g.values()) - hit
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[entity] = {"gold": tp + fn, "precision": round(precision, 3), "recall": round(recall, 3),
                       "f1": round(f1, 3)}
    return out


async def parse_messages(agent) -> list[tuple[str, Counter, Counter]]:
    """(text, gold bag, predicted bag) for every message of the set."""
    messages = list(gold_messages())
    parsed = parse_texts(agent, [text for text, _ in messages])
    return [(text, gold, bag(data["entities"])) for (text, gold), data in zip(messages, parsed, strict=True)]


async def evaluate(model: Path) -> dict:
    parsed = await parse_messages(load_agent(model))
    misses = [{"text": t, "missing": sorted(map(list, g - p)), "extra": sorted(map(list, p - g))}
              for t, g, p in parsed if g != p]
    return {"messages": len(parsed), "entities": scores([(g, p) for _, g, p in parsed]), "misses": misses}


if __name__ == "__main__":
    print_scores(__doc__, evaluate)
