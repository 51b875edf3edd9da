"""Korean and Chinese tokenization, compared (issue 14): the shipped tokenizer against `CjkTokenizer`.

The shipped `WhitespaceTokenizer` drops all-Hangul and all-Han tokens as emoji and sees an
unsegmented Chinese sentence as one token (`bot/nlu_components/cjk_tokenizer.py`). Variants,
each config.yml with only the tokenizer swapped:
- `shipped`: config.yml as it is;
- `cjk`: `CjkTokenizer`, which keeps Hangul and Han tokens (no new dependency);
- `cjk-jieba`: the same with `segment_han: true`, Han runs cut into jieba's words (needs
  `jieba`, which the lock does not hold).

Each variant is trained NLU-only on the whole of `nlu/` (one process per step, for an honest
training time), then scored on what decides the choice:
- per language (`bench.by_language`, sentences written apart): macro-F1 and P1 recall;
- BANKING77 accuracy and real-text P1 recall (`bench.real_slice`), the English real-text gate;
- parse wall time and CPU time per language over the same sentences (`Agent.parse_message`).

    python -m bench.zh_tokenizer --train shipped --out DIR   # JSON: model path, train seconds
    python -m bench.zh_tokenizer --train cjk-jieba --out DIR
    python -m bench.zh_tokenizer --evaluate DIR/cjk-jieba.tar.gz  # JSON: the figures
"""
import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np
import yaml

from bench.by_language import LANGUAGES, figures, held_out, score_all
from bench.real_slice import figures as real_figures
from bench.real_slice import parse_slice, shipped_safety_net
from bench.served_agent import load_agent

ROOT = Path(__file__).resolve().parents[1]
WHITESPACE = "WhitespaceTokenizer"
TOKENIZERS = {
    "shipped": None,
    "cjk": {"name": "bot.nlu_components.cjk_tokenizer.CjkTokenizer"},
    "cjk-jieba": {"name": "bot.nlu_components.cjk_tokenizer.CjkTokenizer", "segment_han": True},
}


def pipeline(variant: str) -> list[dict]:
    """config.yml's pipeline, with the variant's tokenizer in place of the whitespace tokenizer."""
    steps = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    tokenizer = TOKENIZERS[variant]
    return [tokenizer if tokenizer and step["name"] == WHITESPACE else step for step in steps]


def train(variant: str, out: Path) -> dict:
    from rasa.model_training import train_nlu

    from bot.nlu_components.encoder import shared_encoder
    from bot.nlu_components.settings import EmbeddingSettings

    out.mkdir(parents=True, exist_ok=True)
    config = out / f"{variant}.config.yml"
    config.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline(variant)},
                                     sort_keys=False, allow_unicode=True), encoding="utf-8")
    started, cpu = time.perf_counter(), time.process_time()
    model = train_nlu(str(config), str(ROOT / "nlu"), str(out), fixed_model_name=variant)
    return {"model": model, "train_seconds": round(time.perf_counter() - started, 1),
            "train_cpu_seconds": round(time.process_time() - cpu, 1),
            "texts_embedded": shared_encoder(None, EmbeddingSettings.from_env().threads).texts_embedded}


async def parse_times(agent) -> dict[str, dict[str, float]]:
    """Per language: p50/p99 wall and CPU milliseconds of one `parse_message` per held-out sentence."""
    await agent.parse_message("hello")  # warm-up: loading is not parsing
    times: dict[str, list[tuple[float, float]]] = {language: [] for language in LANGUAGES}
    for language, _, text in held_out():
        wall, cpu = time.perf_counter(), time.process_time()
        await agent.parse_message(text)
        times[language].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {language: {"wall_ms_p50": round(float(np.percentile([w for w, _ in pairs], 50)) * 1000, 1),
                       "wall_ms_p99": round(float(np.percentile([w for w, _ in pairs], 99)) * 1000, 1),
                       "cpu_ms_p50": round(float(np.percentile([c for _, c in pairs], 50)) * 1000, 1),
                       "cpu_ms_p99": round(float(np.percentile([c for _, c in pairs], 99)) * 1000, 1)}
            for language, pairs in times.items()}


async def evaluate(model: Path) -> dict:
    agent = load_agent(model)
    by_language = figures(score_all(agent))
    real = real_figures(await parse_slice(agent), shipped_safety_net())
    return {
        "by_language": {language: {key: f[key] for key in ("macro_f1", "p1_recall", "p1_opened_as_p1", "p1_sentences",
                                                           "routed_macro_f1", "routed_p1_recall")}
                        for language, f in by_language.items()},
        "zh_confusions": by_language["zh"]["confusions"],
        "real_slice": {key: real[key] for key in ("banking77_accuracy", "p1_recall", "p1_recall_with_check",
                                                  "non_p1_routed_as_p1", "oos_rejected")},
        "parse": await parse_times(agent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    step = parser.add_mutually_exclusive_group(required=True)
    step.add_argument("--train", choices=sorted(TOKENIZERS))
    step.add_argument("--evaluate", type=Path, help="a model trained by --train")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "zh_tokenizer")
    args = parser.parse_args()
    result = train(args.train, args.out) if args.train else asyncio.run(evaluate(args.evaluate))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
