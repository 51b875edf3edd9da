"""`make bench`: figures of the trained assistant on this machine, printed as `name: value` lines.

NLU: loads the model `make model` built (the same one `make run` serves) and parses the held-out
NLU sentences and the real-text slice one by one through `Agent.parse_message`, as the
server does per message. The pipeline comparison itself is `make nlu-report` (it trains several models).

End to end, each on its own fresh stack (the processes `make run` starts, on 127.0.0.1, a fake
Telegram Bot API, a temporary SQLite file): `bench/load.py` (REST and Telegram throughput and
first-reply latency, P1 alert latency), `bench/crash.py` (kill -9 of the Rasa server during a
Telegram burst), `bench/cpu_profile.py` (CPU per message by component, idle polling). Each also
runs alone: `python -m bench.load` / `bench.crash` / `bench.cpu_profile`. About 15 minutes in all.
"""
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from bench.cpu_profile import run_profile
from bench.crash import run_crash
from bench.live_stack import run_main
from bench.load import run_load
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


def print_line(name: str, value: str) -> None:
    print(f"{name}: {value}", flush=True)


async def end_to_end() -> list[str]:
    """Load, crash and profile runs one after another; the names of those that failed."""
    failed = []
    load: dict[str, str] = {}

    async def part(name: str, run: Callable[[], Awaitable[object]]) -> object:
        started = time.perf_counter()
        try:
            return await run()
        except Exception as error:  # one part failing still leaves the others' figures
            print_line(f"{name}.failed", f"{type(error).__name__}: {error}")
            failed.append(name)
            return None
        finally:
            print_line(f"{name}.run_seconds", f"{time.perf_counter() - started:.0f}")

    load = await part("load", lambda: run_load(print_line)) or {}  # type: ignore[assignment]
    await part("crash", lambda: run_crash(print_line))
    saturated = load.get("telegram.open33.throughput_msgs_per_s")
    await part("profile", lambda: run_profile(print_line, float(saturated) if saturated else None))
    return failed


def main() -> None:
    started = time.perf_counter()
    for name, value in asyncio.run(nlu_figures(ensure_model())).items():
        print_line(name, value)
    failed = run_main(end_to_end)
    print_line("bench.run_seconds", f"{time.perf_counter() - started:.0f}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
