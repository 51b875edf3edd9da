"""Score a trained model on the real-text slice that `make data` held out of training.

One parse per row through `Agent.parse_message`, as the server parses a message. The
figures are the gate of `tests/test_nlu_real_text.py` and the README's "Real text" table:

- BANKING77 accuracy: the routed intent equals the mapped intent (a fallback is wrong);
- P1 recall, pooled over every row whose gold intent is suspected_theft or account_locked;
- non-P1 rows (BANKING77 and out-of-scope) routed as P1;
- out-of-scope rows rejected (out_of_scope or the fallback);
- the P1 safety net's question: P1 recall when the customer answers it truthfully ("Yes"
  on gold-P1 rows), and how often it is asked on non-P1 rows.

"Routed" is where the message goes without asking: the classifier's intent (after the
fallback), or a P1 intent where the safety net routes on P1 probability. Each row keeps
the classifier's intent and ranking, so the safety net can be replayed at other thresholds.

    python -m bench.real_slice [--model models/support-....tar.gz]   # prints the figures as JSON
"""
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.served_agent import load_agent, parse_texts, print_scores
from bot.nlu_components.p1_safety_net import P1_CHECK, P1_ROUTE, P1SafetyNet

ROOT = Path(__file__).resolve().parents[1]
SLICES = {
    "banking77": ROOT / "tests" / "data" / "real_slice_banking77.yml",
    "clinc150": ROOT / "tests" / "data" / "real_slice_clinc150.yml",
}
P1_INTENTS = frozenset({"suspected_theft", "account_locked"})
REJECTED = frozenset({"out_of_scope", "nlu_fallback"})


@dataclass(frozen=True)
class Row:
    """One held-out message, its gold intent and what the classifier made of it."""

    source: str
    gold: str
    text: str
    classified: str  # the intent before the safety net; nlu_fallback when the classifier was unsure
    ranking: tuple  # the intent ranking, for replaying the safety net at another threshold


def slice_rows() -> list[tuple[str, str, str]]:
    """(source, gold intent, text) of every held-out row."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [(source, m.get("intent"), m.get("text"))
            for source, path in SLICES.items() for m in load_data(str(path)).intent_examples]


def as_row(source: str, gold: str, text: str, parsed: dict) -> Row:
    replaced = parsed.get(P1_CHECK) or parsed.get(P1_ROUTE)
    classified = replaced["replaced_intent"] if replaced else parsed["intent"]["name"]
    return Row(source, gold, text, classified, tuple(parsed.get("intent_ranking") or ()))


async def parse_slice(agent) -> list[Row]:
    rows = list(slice_rows())
    parsed = parse_texts(agent, [text for _, _, text in rows])
    return [as_row(source, gold, text, data) for (source, gold, text), data in zip(rows, parsed, strict=True)]


def shipped_safety_net() -> P1SafetyNet:
    """The safety net as config.yml configures it."""
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    [step] = [s for s in pipeline if s["name"].endswith("P1SafetyNet")]
    return P1SafetyNet({**P1SafetyNet.get_default_config(), **{k: v for k, v in step.items() if k != "name"}})


@dataclass(frozen=True)
class Outcome:
    """Where the bot sends a row, and what a "No" to the safety net's question would mean."""

    row: Row
    routed: str
    asked: bool
    after_no: str


def outcomes(rows: list[Row], net: P1SafetyNet) -> list[Outcome]:
    """Each row through the safety net as configured."""
    out = []
    for r in rows:
        decision = net.decide({"name": r.classified}, list(r.ranking))
        routed = decision["p1_intent"] if decision and decision["route"] else r.classified
        asked = bool(decision) and not decision["route"]
        out.append(Outcome(r, routed, asked, decision["otherwise"] if asked else routed))
    return out


def share(hits: list[bool]) -> float:
    return round(sum(hits) / len(hits), 4) if hits else float("nan")


def figures(rows: list[Row], net: P1SafetyNet) -> dict:
    """The gate's figures, plus per-intent recall and the commonest confusions."""
    done = outcomes(rows, net)
    banking = [o for o in done if o.row.source == "banking77"]
    p1 = [o for o in done if o.row.gold in P1_INTENTS]
    non_p1 = [o for o in done if o.row.gold not in P1_INTENTS]
    oos = [o for o in done if o.row.gold == "out_of_scope"]
    per_intent = {
        intent: {"rows": len(group), "recall": share([o.routed == intent for o in group]),
                 "precision": share([o.row.gold == intent for o in done if o.routed == intent])}
        for intent in sorted({o.row.gold for o in done})
        for group in [[o for o in done if o.row.gold == intent]]
    }
    confusions = Counter(f"{o.row.gold} -> {o.routed}" for o in done if o.routed != o.row.gold
                         and not (o.row.gold == "out_of_scope" and o.routed in REJECTED))
    return {
        "rows": len(rows),
        "banking77_accuracy": share([o.routed == o.row.gold for o in banking]),
        "p1_recall": share([o.routed in P1_INTENTS for o in p1]),
        "non_p1_routed_as_p1": share([o.routed in P1_INTENTS for o in non_p1]),
        "oos_rejected": share([o.routed in REJECTED for o in oos]),
        "route_threshold": net.route_threshold,
        "ask_threshold": net.ask_threshold,
        "p1_recall_with_check": share([o.routed in P1_INTENTS or o.asked for o in p1]),
        "check_asked_on_non_p1": share([o.asked for o in non_p1]),
        "banking77_accuracy_after_no": share([o.after_no == o.row.gold for o in banking
                                              if o.row.gold not in P1_INTENTS]),
        "p1_rows": len(p1), "non_p1_rows": len(non_p1), "oos_rows": len(oos), "banking77_rows": len(banking),
        "per_intent": per_intent,
        "top_confusions": dict(confusions.most_common(12)),
    }


def sweep(rows: list[Row], route: list[float], ask: list[float]) -> list[dict[str, float]]:
    """The gate's figures for each pair of thresholds (route at or above ask)."""
    keys = ("banking77_accuracy", "p1_recall", "non_p1_routed_as_p1", "oos_rejected", "p1_recall_with_check",
            "check_asked_on_non_p1")
    out = []
    for route_threshold in route:
        for ask_threshold in (a for a in ask if a <= route_threshold):
            net = P1SafetyNet({**P1SafetyNet.get_default_config(), "route_threshold": route_threshold,
                               "ask_threshold": ask_threshold})
            scored = figures(rows, net)
            out.append({"route": route_threshold, "ask": ask_threshold, **{k: scored[k] for k in keys}})
    return out


async def evaluate(model: Path) -> dict:
    rows = await parse_slice(load_agent(model))
    return {**figures(rows, shipped_safety_net()),
            "sweep": sweep(rows, [0.08, 0.1, 0.12, 0.15, 0.2, 1.01], [0.005, 0.01, 0.02, 0.04, 0.08])}


if __name__ == "__main__":
    print_scores(__doc__, evaluate)
