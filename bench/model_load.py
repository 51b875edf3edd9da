"""How long a fresh process takes to load the model: the floor of a restarted Rasa server's start.

Each run is a new Python that does what the Rasa server and its NLU child do before they can
parse: the early imports (`bot/runtime/early_imports.py`), Rasa's, then the NLU child's
`parsing_processor` on the model file. Three runs, one after the other, on an otherwise idle machine.

    python -m bench.model_load       # `name: value` lines (under a minute)
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

RUNS = 3


def load_once(model: str) -> None:
    """In this (fresh) process: import and load as the server does; print the two times."""
    started = time.perf_counter()
    from bot.runtime import early_imports

    early_imports.import_before_tensorflow()
    import rasa.core.processor  # noqa: F401  # Rasa's imports, timed apart from the load

    from bot.runtime.nlu_process import parsing_processor

    imported = time.perf_counter()
    parsing_processor(model)
    print(f"{imported - started:.2f} {time.perf_counter() - imported:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="model load time in a fresh process (see the docstring)")
    parser.add_argument("--once", metavar="MODEL", help="(internal) one run on MODEL, in this process")
    once = parser.parse_args().once
    if once:
        load_once(once)
        return
    from bot.runtime.model import ensure_model

    model = str(ensure_model())
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-m", "bench.model_load", "--once", model], capture_output=True, text=True, check=True
        )
        runs.append(tuple(float(x) for x in out.stdout.split()[-2:]))
    imports, loads = [r[0] for r in runs], [r[1] for r in runs]
    print(f"model_load.imports_s: {statistics.median(imports):.1f} (median of {RUNS} fresh processes)", flush=True)
    print(f"model_load.load_s: {statistics.median(loads):.1f}", flush=True)
    print(f"model_load.total_s: {statistics.median(imported + loaded for imported, loaded in runs):.1f}", flush=True)


if __name__ == "__main__":
    main()
