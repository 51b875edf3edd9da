"""The trained model loaded as the server loads it, for measuring; and the command line of a scorer."""
import argparse
import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path


def load_agent(model: Path | str):  # -> rasa.core.agent.Agent, imported late (TensorFlow)
    """`Agent.load` with Rasa's per-parse debug logging to stdout turned off."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(str(model))


def print_scores(description: str, evaluate: Callable[[Path], Awaitable[dict]]) -> None:
    """`python -m bench.<scorer> [--model PATH]`: score a model (default: the one `make model` builds)."""
    from bot.runtime.model import ensure_model

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained model (default: the one `make model` builds)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(evaluate(args.model or ensure_model())), indent=2))
