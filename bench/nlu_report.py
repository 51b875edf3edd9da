"""Compare NLU pipelines on the held-out and stress sets; print the table (`make nlu-report`).

Each pipeline is trained with `rasa train nlu` semantics in its own subprocess (honest
training time), then loaded in a second, fresh subprocess that parses every evaluation
sentence through `Agent.parse_message` (latency, memory). The main held-out set is scored
by Rasa's own `rasa test nlu` evaluation (intent and entity reports); the stress and
multilingual sets by the same sklearn report Rasa uses. Slow: kept out of `make test`.

    python -m bench.nlu_report                       # all pipelines, English + ko/zh
    python -m bench.nlu_report --only e5-logreg --skip-multilingual
    python -m bench.nlu_report --table               # reprint the last results
"""
import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.entities_apart import parse_messages
from bench.entities_apart import scores as entity_scores
from bench.real_slice import figures, parse_slice, shipped_safety_net
from bench.served_agent import load_agent

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
TEST_SET = DATA / "nlu_test.yml"
STRESS_SETS = {"paraphrase": DATA / "nlu_stress_paraphrase.yml", "typos": DATA / "nlu_stress_typos.yml"}
ML_TRAIN = ROOT / "nlu" / "multilingual.yml"
ML_TEST = DATA / "nlu_multilingual_test.yml"
P1_INTENTS = ("suspected_theft", "account_locked")
FALLBACK_THRESHOLD = 0.35
REJECTED = {"out_of_scope", "nlu_fallback"}
LANGUAGES = {
    "ko": lambda text: any("\uac00" <= c <= "\ud7a3" for c in text),
    "zh": lambda text: any("\u4e00" <= c <= "\u9fff" for c in text),
}
EMBEDDER = "bot.nlu_components.sentence_embeddings.SentenceEmbeddingFeaturizer"
FAST_LOGREG = "bot.nlu_components.logistic_regression.FastLogisticRegressionClassifier"

SPARSE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer", "case_sensitive": False, "use_word_boundaries": True},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
]
TAIL = [
    {"name": "RegexEntityExtractor", "use_lookup_tables": True, "use_regexes": True},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": FALLBACK_THRESHOLD, "ambiguity_threshold": 0.05},
]


def diet(epochs: int) -> list[dict]:
    return [{
        "name": "DIETClassifier", "epochs": epochs, "number_of_transformer_layers": 0,
        "hidden_layers_sizes": {"text": [256]}, "constrain_similarities": True, "random_seed": 1,
    }]


def logreg() -> list[dict]:
    return [{"name": FAST_LOGREG, "max_iter": 200}, {"name": "CRFEntityExtractor"}]


def embedder(scale: float = 1.0, max_tokens: int | None = None) -> list[dict]:
    return [{"name": EMBEDDER, "scale": scale, "max_tokens": max_tokens}]


def shipped() -> list[dict]:
    """The pipeline config.yml ships, as it is."""
    return yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]


PIPELINES: dict[str, list[dict]] = {
    "shipped": shipped(),
    "sparse-diet20": SPARSE + diet(20) + TAIL,
    "sparse-diet40": SPARSE + diet(40) + TAIL,
    "sparse-diet100": SPARSE + diet(100) + TAIL,
    "sparse-logreg": SPARSE + logreg() + TAIL,
    "e5-diet20": SPARSE + embedder() + diet(20) + TAIL,
    "e5-diet40": SPARSE + embedder() + diet(40) + TAIL,
    "e5-logreg": SPARSE + embedder() + logreg() + TAIL,
    "e5x8-logreg": SPARSE + embedder(8.0) + logreg() + TAIL,
    "e5x24-logreg": SPARSE + embedder(24.0) + logreg() + TAIL,
    "e5x64-logreg": SPARSE + embedder(64.0) + logreg() + TAIL,
    "e5x64t32-logreg": SPARSE + embedder(64.0, max_tokens=32) + logreg() + TAIL,
    "e5x64t24-logreg": SPARSE + embedder(64.0, max_tokens=24) + logreg() + TAIL,
}


def write_config(pipeline: list[dict], path: Path) -> None:
    path.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline}, sort_keys=False))


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def snapshot_training_data(work: Path) -> None:
    """Copy nlu/ once, so every pipeline sees the same data: English only, and whole (with ko/zh)."""
    for target, korean_and_chinese in ((work / "data_en", False), (work / "data_ml", True)):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "nlu", target)
        if not korean_and_chinese:
            (target / ML_TRAIN.name).unlink()


# ----------------------------------------------------------------- subprocess: train
def train_one(name: str, work: Path, multilingual: bool) -> dict:
    from rasa.model_training import train_nlu

    tag = name + ("-ml" if multilingual else "")
    config = work / f"{tag}.config.yml"
    write_config(PIPELINES[name], config)
    data = work / ("data_ml" if multilingual else "data_en")
    started = time.perf_counter()
    model = train_nlu(str(config), str(data), str(work / "models"), fixed_model_name=tag)
    seconds = time.perf_counter() - started
    embedded = 0
    if any(step["name"] == EMBEDDER for step in PIPELINES[name]):
        from bot.nlu_components.encoder import shared_encoder
        from bot.nlu_components.settings import EmbeddingSettings

        embedded = shared_encoder(None, EmbeddingSettings.from_env().threads).texts_embedded
    return {"model": model, "train_seconds": round(seconds, 1), "texts_embedded": embedded,
            "train_peak_rss_mb": round(rss_mb("VmHWM"))}


# ----------------------------------------------------------------- subprocess: evaluate
def load_examples(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(m.get("intent"), m.get("text")) for m in load_data(str(path)).intent_examples]


def intent_scores(truth: list[str], predicted: list[str]) -> dict:
    """Macro-F1 and per-intent recall, computed as `rasa test nlu` does."""
    from sklearn.metrics import classification_report

    report = classification_report(truth, predicted, output_dict=True, zero_division=0)
    scores = {"macro_f1": round(report["macro avg"]["f1-score"], 3),
              "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth), 3)}
    for intent in P1_INTENTS:
        if intent in report:
            scores[f"recall_{intent}"] = round(report[intent]["recall"], 3)
    return scores


async def evaluate_one(model: str, work: Path, multilingual: bool) -> dict:
    import numpy as np
    from rasa.nlu.classifiers.fallback_classifier import is_fallback_classifier_prediction, undo_fallback_prediction
    from rasa.nlu.test import run_evaluation

    started = time.perf_counter()
    agent = load_agent(model)
    await agent.parse_message("hello")  # warm-up, so loading is not counted as latency
    result: dict = {"load_seconds": round(time.perf_counter() - started, 1), "rss_loaded_mb": round(rss_mb("VmRSS"))}
    sets = {"multilingual": ML_TEST} if multilingual else dict(STRESS_SETS)
    latencies: list[float] = []
    cpu_times: list[float] = []  # CPU time per parse: what the latency would be on an idle core
    rejected = []
    for set_name, path in sets.items():
        examples = load_examples(path)
        truth, predicted, fell_back = [], [], []
        for intent, text in examples:
            t0, c0 = time.perf_counter(), time.process_time()
            parsed = await agent.parse_message(text)
            latencies.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            truth.append(intent)
            fell_back.append(is_fallback_classifier_prediction(parsed))
            if intent == "out_of_scope":
                rejected.append(parsed["intent"]["name"] in REJECTED)
            # Scored as `rasa test nlu` does: a fallback counts as the intent it shadowed.
            predicted.append(undo_fallback_prediction(parsed)["intent"]["name"] if fell_back[-1] else
                             parsed["intent"]["name"])
        pairs = list(zip(truth, predicted, strict=True))
        result[set_name] = intent_scores(truth, predicted)
        result[set_name]["fallback_rate"] = round(
            sum(f for (t, _), f in zip(pairs, fell_back, strict=True) if t != "out_of_scope") / len(pairs), 3)
        if multilingual:
            for lang, script in LANGUAGES.items():
                hits = [t == p for (t, p), (_, text) in zip(pairs, examples, strict=True) if script(text)]
                result[set_name][f"accuracy_{lang}"] = round(sum(hits) / max(len(hits), 1), 3)
    result["latency_ms_p50"] = round(float(np.percentile(latencies, 50)) * 1000, 1)
    result["latency_ms_p99"] = round(float(np.percentile(latencies, 99)) * 1000, 1)
    result["cpu_ms_p50"] = round(float(np.percentile(cpu_times, 50)) * 1000, 1)
    result["cpu_ms_p99"] = round(float(np.percentile(cpu_times, 99)) * 1000, 1)
    result["rss_after_parsing_mb"] = round(rss_mb("VmRSS"))
    if not multilingual:
        reports = work / "reports" / Path(model).name.removesuffix(".tar.gz")
        official = await run_evaluation(str(TEST_SET), agent.processor, output_directory=str(reports),
                                        errors=True, disable_plotting=True, report_as_dict=True)
        report = official["intent_evaluation"]["report"]
        result["rasa_test_nlu"] = {"macro_f1": round(report["macro avg"]["f1-score"], 3),
                                   **{f"recall_{i}": round(report[i]["recall"], 3) for i in P1_INTENTS}}
        # `rasa test nlu` reports the intent a fallback shadowed; its confidence tells the fallback.
        predictions = official["intent_evaluation"]["predictions"]
        result["test_fallback_rate"] = round(
            sum(p["confidence"] < FALLBACK_THRESHOLD for p in predictions) / len(predictions), 3)
        rejected += [p["predicted"] == "out_of_scope" or p["confidence"] < FALLBACK_THRESHOLD
                     for p in predictions if p["intent"] == "out_of_scope"]
        result["entity_f1"] = {extractor: round(scores["report"]["micro avg"]["f1-score"], 3)
                               for extractor, scores in (official["entity_evaluation"] or {}).items()}
        real = figures(await parse_slice(agent), shipped_safety_net())
        result["real_slice"] = {k: v for k, v in real.items() if k not in ("per_intent", "top_confusions")}
        result["entities_apart_f1"] = {entity: scored["f1"] for entity, scored in
                                       entity_scores([(g, p) for _, g, p in await parse_messages(agent)]).items()}
    result["oos_rejection"] = f"{sum(rejected)}/{len(rejected)}"
    return result


# ----------------------------------------------------------------- driver
def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-m", "bench.nlu_report", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(name: str, work: Path, multilingual: bool) -> dict:
    flags = ["--work", str(work)] + (["--multilingual"] if multilingual else [])
    trained = run_child("--train", name, *flags)
    evaluated = run_child("--evaluate", trained["model"], *flags)
    return {**trained, **evaluated}


def table(results: dict[str, dict]) -> str:
    head = ("| pipeline | real: B77 acc. | real: P1 recall (with question) | real: non-P1 as P1 | real: OOS rejected "
            "| real: asked on non-P1 | entities apart F1 (coin/amount/network/txid/account) "
            "| test macro-F1 | recall theft / locked | paraphrase F1 | typos F1 | OOS rejected "
            "| low-conf. (test) | entity micro-F1 | ko / zh acc. (F1) | train s (texts embedded) "
            "| parse p50 / p99 ms | CPU per parse p50 / p99 ms | RSS MiB |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in results.items():
        en, ml = r.get("en", {}), r.get("ml", {}).get("multilingual")
        official = en["rasa_test_nlu"]
        entities = ", ".join(f"{k.replace('EntityExtractor', '').replace('Classifier', '')} {v}"
                             for k, v in en["entity_f1"].items())
        mlcell = f"{ml['accuracy_ko']} / {ml['accuracy_zh']} ({ml['macro_f1']})" if ml else "-"
        real = en.get("real_slice")
        realcells = (f"{real['banking77_accuracy']} | {real['p1_recall']} ({real['p1_recall_with_check']}) "
                     f"| {real['non_p1_routed_as_p1']} | {real['oos_rejected']} | {real['check_asked_on_non_p1']}"
                     if real else "- | - | - | - | -")
        apart = "/".join(str(v) for v in en["entities_apart_f1"].values()) if "entities_apart_f1" in en else "-"
        rows.append(
            f"| {name} | {realcells} | {apart} | {official['macro_f1']} | {official['recall_suspected_theft']} / "
            f"{official['recall_account_locked']} | {en['paraphrase']['macro_f1']} | {en['typos']['macro_f1']} "
            f"| {en['oos_rejection']} | {en['test_fallback_rate']} | {entities} | {mlcell} "
            f"| {en['train_seconds']} ({en['texts_embedded']}) | {en['latency_ms_p50']} / {en['latency_ms_p99']} "
            f"| {en.get('cpu_ms_p50', '-')} / {en.get('cpu_ms_p99', '-')} | {en['rss_loaded_mb']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(PIPELINES), help="pipelines to compare (default: all)")
    parser.add_argument("--skip-multilingual", action="store_true")
    parser.add_argument("--multilingual-only", nargs="*", choices=sorted(PIPELINES), default=None,
                        help="measure ko/zh for these pipelines only (alone: no English runs)")
    parser.add_argument("--reuse-data", action="store_true",
                        help="add to the last run: same data snapshot, results merged into its results.json")
    parser.add_argument("--table", action="store_true", help="print the table of the last run's results.json")
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "nlu_report")
    parser.add_argument("--train", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("--evaluate", help=argparse.SUPPRESS)
    parser.add_argument("--multilingual", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.train:
        print(json.dumps(train_one(args.train, args.work, args.multilingual)))
        return
    if args.evaluate:
        print(json.dumps(asyncio.run(evaluate_one(args.evaluate, args.work, args.multilingual))))
        return
    results_file = args.work / "results.json"
    if args.table:
        print(table(json.loads(results_file.read_text())))
        return
    os.environ.setdefault("NLU_EMBEDDING_CACHE_DIR", tempfile.mkdtemp(prefix="nlu-report-cache-"))
    if not args.reuse_data:
        snapshot_training_data(args.work)
    results: dict[str, dict] = json.loads(results_file.read_text()) if args.reuse_data else {}
    names = args.only or ([] if args.multilingual_only else list(PIPELINES))
    for name in names:
        results[name] = {**results.get(name, {}), "en": measure(name, args.work, multilingual=False)}
        results_file.write_text(json.dumps(results, indent=2))
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    multilingual = [] if args.skip_multilingual else args.multilingual_only or names
    for name in multilingual:
        results[name]["ml"] = measure(name, args.work, multilingual=True)
        results_file.write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
