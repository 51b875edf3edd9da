"""`make bench`: figures of the trained assistant on this machine, printed as `name: value` lines.

Loads the model `make model` built (the same one `make run` serves) and parses the held-out
NLU sentences and the real-text slice one by one through `Agent.parse_message`, as the
server does per message.
The pipeline comparison itself is `make nlu-report` (it trains several models).
"""
import asyncio
import time
from pathlib import Path

import numpy as np

from bench.nlu_report import TEST_SET, load_examples, rss_mb
from bench.real_slice import as_row, figures, shipped_safety_net, slice_rows
from bench.served_agent import load_agent
from bot.runtime.model import ensure_model


async def nlu_figures(model: Path) -> dict[str, str]:
    started = time.perf_counter()
    agent = load_agent(model)
    await agent.parse_message("hello")
    load_seconds = time.perf_counter() - started
    latencies, correct = [], 0
    examples = load_examples(TEST_SET)
    for intent, text in examples:
        t0 = time.perf_counter()
        parsed = await agent.parse_message(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        correct += parsed["intent"]["name"] == intent
    real_latencies, rows = [], []
    for source, gold, text in slice_rows():
        t0 = time.perf_counter()
        parsed = await agent.parse_message(text)
        real_latencies.append((time.perf_counter() - t0) * 1000)
        rows.append(as_row(source, gold, text, parsed))
    real = figures(rows, shipped_safety_net())
    return {
        "model": model.name,
        "nlu.load_seconds": f"{load_seconds:.1f}",
        "nlu.parse_ms_p50": f"{np.percentile(latencies, 50):.1f}",
        "nlu.parse_ms_p99": f"{np.percentile(latencies, 99):.1f}",
        "nlu.held_out_accuracy_with_fallback": f"{correct / len(examples):.3f} ({len(examples)} sentences)",
        "nlu.real_slice_parse_ms_p50": f"{np.percentile(real_latencies, 50):.1f}",
        "nlu.real_slice_parse_ms_p99": f"{np.percentile(real_latencies, 99):.1f} ({len(rows)} real messages)",
        **{f"nlu.real_slice.{key}": f"{real[key]:.3f}" for key in (
            "banking77_accuracy", "p1_recall", "non_p1_routed_as_p1", "oos_rejected", "p1_recall_with_check",
            "check_asked_on_non_p1")},
        "process.rss_mb": f"{rss_mb('VmRSS'):.0f}",
    }


def main() -> None:
    for name, value in asyncio.run(nlu_figures(ensure_model())).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
