"""`make bench`: figures of the trained assistant on this machine, printed as `name: value` lines.

Loads the model `make model` built (the same one `make run` serves) and parses the held-out
NLU sentences one by one through `Agent.parse_message`, as the server does per message.
The pipeline comparison itself is `make nlu-report` (it trains several models).
"""
import asyncio
import logging
import time
from pathlib import Path

import numpy as np

from bench.nlu_report import TEST_SET, load_examples, rss_mb
from bot.runtime.model import ensure_model


async def nlu_figures(model: Path) -> dict[str, str]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level to stdout
    started = time.perf_counter()
    agent = Agent.load(str(model))
    await agent.parse_message("hello")
    load_seconds = time.perf_counter() - started
    latencies, correct = [], 0
    examples = load_examples(TEST_SET)
    for intent, text in examples:
        t0 = time.perf_counter()
        parsed = await agent.parse_message(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        correct += parsed["intent"]["name"] == intent
    return {
        "model": model.name,
        "nlu.load_seconds": f"{load_seconds:.1f}",
        "nlu.parse_ms_p50": f"{np.percentile(latencies, 50):.1f}",
        "nlu.parse_ms_p99": f"{np.percentile(latencies, 99):.1f}",
        "nlu.held_out_accuracy_with_fallback": f"{correct / len(examples):.3f} ({len(examples)} sentences)",
        "process.rss_mb": f"{rss_mb('VmRSS'):.0f}",
    }


def main() -> None:
    for name, value in asyncio.run(nlu_figures(ensure_model())).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
