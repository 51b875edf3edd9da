"""`make bench`: figures of the trained assistant on this machine, printed as `name: value` lines.

NLU: loads the model `make model` built (the same one `make run` serves) and parses the held-out
NLU sentences and the real-text slice one by one through `Agent.parse_message`, as the
server does per message. The pipeline comparison itself is `make nlu-report` (it trains several models).

End to end, each in its own process (a fresh Python, one stack at a time: the processes
`make run` starts, on 127.0.0.1, a fake Telegram Bot API, a temporary SQLite file):
`bench/load.py` (REST and Telegram throughput and first-reply latency, P1 alert latency),
`bench/crash.py` (kill -9 of the Rasa server during a Telegram burst, with one Rasa server and
with two, one of them killed), `bench/cpu_profile.py`
(CPU per message by component, idle polling), and before them `bench/model_load.py` (imports
and model load in a fresh process: a restart's floor). Each also runs alone: `python -m
bench.load` / `bench.crash` / `bench.cpu_profile` / `bench.model_load`. About 25 minutes in
all on the 2-core machine.
"""
import asyncio
import signal
import subprocess
import sys
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


def print_line(name: str, value: str) -> None:
    print(f"{name}: {value}", flush=True)


def run_part(module: str, *args: str) -> tuple[dict[str, str], bool]:
    """``python -m module args``, its lines passed through as they come; its figures, and whether it succeeded.

    SIGTERM or Ctrl-C here is passed on, so the part stops the stack it started.
    """
    started, figures_seen = time.perf_counter(), {}
    process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            name, sep, value = line.partition(": ")
            if sep:
                figures_seen[name] = value.strip()
        process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
        print_line(f"{module}.run_seconds", f"{time.perf_counter() - started:.0f}")
    if process.returncode:
        print_line(f"{module}.failed", f"exit status {process.returncode}")
    return figures_seen, process.returncode == 0


def main() -> None:
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the parts' `finally`
    for name, value in asyncio.run(nlu_figures(ensure_model())).items():
        print_line(name, value)
    _, model_load_ok = run_part("bench.model_load")
    load, load_ok = run_part("bench.load")
    _, crash_ok = run_part("bench.crash")
    _, crash_two_ok = run_part("bench.crash", "--instances", "2")  # RASA_INSTANCES=2: the survivor works on
    saturated = load.get("telegram.open33.throughput_msgs_per_s")
    _, profile_ok = run_part("bench.cpu_profile", *(["--messages-per-s", saturated] if saturated else []))
    print_line("bench.run_seconds", f"{time.perf_counter() - started:.0f}")
    parts = (
        ("model load", model_load_ok), ("load", load_ok), ("crash", crash_ok),
        ("crash on two servers", crash_two_ok), ("profile", profile_ok),
    )
    failed = [name for name, ok in parts if not ok]
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
