"""The NLU gate on text nobody here wrote: the real-text slice and the entity set written apart.

The slice (`tests/data/real_slice_*.yml`) is real customer and assistant messages that
`make data` kept out of training (BANKING77, CLINC150); the entity set was written by a
helper who never saw `nlu/`. Scores the model `make run` serves, parsed in this process
as the server parses a message. The figures are computed by `bench.real_slice` and
`bench.entities_apart`, the same code `make nlu-report` and the README use.
"""

import asyncio
import random

import pytest

from bench.entities_apart import SCORED, parse_messages, scores
from bench.real_slice import figures, parse_slice, shipped_safety_net, slice_rows
from bench.served_agent import parse_texts

pytestmark = pytest.mark.slow

BANKING77_ACCURACY_GATE = 0.95
P1_RECALL_GATE = 0.97
NON_P1_AS_P1_LIMIT = 0.02
OOS_REJECTED_GATE = 0.90
P1_RECALL_WITH_CHECK_GATE = 0.99
CHECK_ASKED_LIMIT = 0.05
ENTITY_F1_GATE = 0.90


@pytest.fixture(scope="module")
def agent(served_agent):
    return served_agent


@pytest.fixture(scope="module")
def parsed(agent):
    """Every slice row and every entity message, parsed once by the served model (in batches)."""

    async def parse_both():
        return await parse_slice(agent), await parse_messages(agent)

    return asyncio.run(parse_both())


def test_a_batch_parse_equals_parsing_each_message_as_the_server_does(agent):
    texts = random.Random(7).sample([text for _, _, text in slice_rows()], 40)

    async def one_by_one():
        return [await agent.parse_message(text) for text in texts]

    assert parse_texts(agent, texts) == asyncio.run(one_by_one())


@pytest.fixture(scope="module")
def real(parsed):
    return figures(parsed[0], shipped_safety_net())


def test_banking77_rows_are_routed_to_their_mapped_intent(real):
    assert real["banking77_accuracy"] >= BANKING77_ACCURACY_GATE, real["top_confusions"]


def test_theft_and_locked_accounts_are_routed_as_p1(real):
    assert real["p1_recall"] >= P1_RECALL_GATE, (real["p1_rows"], real["per_intent"]["suspected_theft"])


def test_few_other_messages_are_routed_as_p1(real):
    assert real["non_p1_routed_as_p1"] <= NON_P1_AS_P1_LIMIT, real["top_confusions"]


def test_out_of_scope_questions_are_rejected(real):
    assert real["oos_rejected"] >= OOS_REJECTED_GATE, real["top_confusions"]


def test_the_safety_net_catches_the_p1_rows_the_classifier_missed(real):
    assert real["p1_recall_with_check"] >= P1_RECALL_WITH_CHECK_GATE


def test_the_safety_net_rarely_asks_about_other_messages(real):
    assert real["check_asked_on_non_p1"] <= CHECK_ASKED_LIMIT


@pytest.mark.parametrize("entity", SCORED)
def test_entities_are_extracted_from_messages_written_apart(parsed, entity):
    measured = scores([(gold, predicted) for _, gold, predicted in parsed[1]])[entity]
    misses = [(text, sorted(g - p), sorted(p - g)) for text, g, p in parsed[1]
              if any(k[0] == entity for k in (g - p) + (p - g))]
    assert measured["f1"] >= ENTITY_F1_GATE, (measured, misses[:8])
