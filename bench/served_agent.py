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


BATCH_SIZE = 100


def parse_texts(agent, texts: list[str]) -> list[dict]:
    """Parse many texts through the served NLU graph, a batch per graph run.

    The same result `agent.parse_message` gives each text (every component featurizes and
    classifies message by message; a test holds this), but the graph's per-run overhead is
    paid once per batch: the real-text gate parses ~3,000 rows in half the time.
    """
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    target = processor.model_metadata.nlu_target
    parsed = []
    for start in range(0, len(texts), BATCH_SIZE):
        messages = [UserMessage(text) for text in texts[start : start + BATCH_SIZE]]
        inputs = {PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("batch", [])}
        for message in processor.graph_runner.run(inputs=inputs, targets=[target])[target]:
            parse_data = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
            parse_data.update(message.as_dict(only_output_properties=True))
            parsed.append(parse_data)
    return parsed


def print_scores(description: str, evaluate: Callable[[Path], Awaitable[dict]]) -> None:
    """`python -m bench.<scorer> [--model PATH]`: score a model (default: the one `make model` builds)."""
    from bot.runtime.model import ensure_model

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained model (default: the one `make model` builds)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(evaluate(args.model or ensure_model())), indent=2))
