"""The CRF entity extractor loads as it was trained: its model files are stored, nothing is fitted at load.

Rasa's own extractor stores its training set and fits its CRFs again at every model load,
more than half of a restarted server's load (bot/nlu_components/crf_entity_extractor.py).
"""

import tarfile
from pathlib import Path

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu_components.crf_entity_extractor import StoredCRFEntityExtractor
from bot.runtime.model import ensure_model

TEXT = "I sent 500 usdt over trc20 to 0x52908400098527886E0F7030069857D2E4169EE7 and it never arrived"


def test_the_model_keeps_the_fitted_crfs_and_not_their_training_set():
    with tarfile.open(ensure_model()) as archive:
        names = archive.getnames()
    stored = [name for name in names if "StoredCRFEntityExtractor" in name]
    assert any(name.endswith("/crf_entity.crfsuite") for name in stored), stored
    assert not any(name.endswith("crf_dataset.json") for name in names)


def test_the_crf_loads_without_fitting_and_extracts_as_rasa_s(served_agent, tmp_path: Path, monkeypatch):
    storage, metadata = LocalModelStorage.from_model_archive(tmp_path, ensure_model())
    name, node = next((n, s) for n, s in metadata.predict_schema.nodes.items() if s.uses is StoredCRFEntityExtractor)

    def no_fitting(*args, **kwargs):
        raise AssertionError("the CRF was fitted while loading")

    monkeypatch.setattr(CRFEntityExtractor, "train_model", classmethod(no_fitting))
    context = ExecutionContext(metadata.predict_schema, metadata.model_id)
    config = {**StoredCRFEntityExtractor.get_default_config(), **node.config}  # as Rasa's graph node merges them
    extractor = StoredCRFEntityExtractor.load(config, storage, node.resource, context)
    assert list(extractor.entity_taggers) == extractor.crf_order and extractor.crf_order
    for tagger in extractor.entity_taggers.values():  # a temp cleaner may remove them while the server runs
        Path(tagger.modelfile.name).unlink()

    # the served model's own graph prepares the message up to the CRF (tokens, features, intent)
    runner, before = served_agent.processor.graph_runner, node.needs["messages"]
    inputs = {PLACEHOLDER_MESSAGE: [UserMessage(TEXT)], PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("t", [])}
    [prepared] = runner.run(inputs=inputs, targets=[before])[before]
    [message] = extractor.process([prepared])
    found = {(e["entity"], e["value"].lower(), e["extractor"]) for e in message.get("entities")}
    assert {("coin", "usdt", "CRFEntityExtractor"), ("network", "trc20", "CRFEntityExtractor")} <= found, found

    [served] = runner.run(inputs={**inputs, PLACEHOLDER_MESSAGE: [UserMessage(TEXT)]}, targets=[name])[name]
    assert served.get("entities") == message.get("entities")  # the server's copy, loaded the same way


def _tagged(word: str, entity: str, **extra: str) -> str:
    """``word`` annotated in Rasa's YAML, with a role or group."""
    return f'[{word}]{{"entity": "{entity}", ' + ", ".join(f'"{k}": "{v}"' for k, v in extra.items()) + "}"


def _order(*drinks: tuple[str, str]) -> str:
    return " and ".join(f"a {_tagged(size, 'size', group=str(n))} {_tagged(drink, 'drink', group=str(n))}"
                        for n, (size, drink) in enumerate(drinks, 1))


def _trip(origin: str, destination: str) -> str:
    return f"fly from {_tagged(origin, 'city', role='departure')} to {_tagged(destination, 'city', role='destination')}"


SMALL_NLU = f"""version: "3.1"
nlu:
- intent: book
  examples: |
    - {_trip("Berlin", "London")}
    - {_trip("Paris", "Rome")}
    - {_trip("Madrid", "Lisbon")}
    - {_trip("Seoul", "Tokyo")}
- intent: order
  examples: |
    - {_order(("large", "tea"), ("small", "coffee"))}
    - {_order(("medium", "juice"))}
    - {_order(("small", "tea"), ("large", "milk"))}
- intent: send
  examples: |
    - send [500](amount) [usdt](coin)
    - I sent [0.5](amount) [btc](coin) yesterday
    - withdraw [1200](amount) [eth](coin)
"""
NO_ENTITIES_NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
- intent: bye
  examples: |
    - goodbye
    - see you
"""
SMALL_TEXTS = [
    "fly from Berlin to London", "from Rome to Tokyo please", "a large coffee and a small tea",
    "one medium milk", "send 30 usdt", "I sent 2 eth", "서울에서 부산까지 🚀", "hello", "from\tParis\nto Madrid",
]


def _config(extractor: str) -> str:
    return f"""recipe: default.v1
language: en
assistant_id: stored-crf-test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: {extractor}
"""


def _trained(work: Path, name: str, extractor: str, nlu: str) -> str:
    from rasa.model_training import train_nlu

    (work / f"{name}.yml").write_text(_config(extractor))
    (work / f"{name}-nlu.yml").write_text(nlu)
    model = train_nlu(str(work / f"{name}.yml"), str(work / f"{name}-nlu.yml"), str(work), fixed_model_name=name)
    assert model is not None
    return model


async def _entities(model: str, texts: list[str]) -> list[list[dict]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [(await agent.parse_message(text))["entities"] for text in texts]


@pytest.fixture(scope="module")
def small_models(tmp_path_factory) -> dict[str, str]:
    """Tiny models trained here, with the stored CRF and with Rasa's, each in a cache of its own."""
    work = tmp_path_factory.mktemp("small-crf")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_CACHE_DIRECTORY", str(work / "cache"))
        stored = "bot.nlu_components.crf_entity_extractor.StoredCRFEntityExtractor"
        return {
            "stored": _trained(work, "stored", stored, SMALL_NLU),
            "rasa": _trained(work, "rasa", "CRFEntityExtractor", SMALL_NLU),
            "no_entities": _trained(work, "no-entities", stored, NO_ENTITIES_NLU),
        }


async def test_roles_and_groups_are_stored_and_extracted_as_rasa_s_own_crf_does(small_models):
    with tarfile.open(small_models["stored"]) as archive:
        stored = sorted(Path(name).name for name in archive.getnames() if name.endswith(".crfsuite"))
    assert stored == ["crf_entity.crfsuite", "crf_group.crfsuite", "crf_role.crfsuite"]
    ours = await _entities(small_models["stored"], SMALL_TEXTS)
    # values, roles, groups, confidences and the extractor's name
    assert ours == await _entities(small_models["rasa"], SMALL_TEXTS)
    roles = {(e["value"], e.get("role")) for e in ours[0]}
    assert roles == {("Berlin", "departure"), ("London", "destination")}


async def test_a_model_trained_without_entity_examples_loads_and_extracts_nothing(small_models):
    assert await _entities(small_models["no_entities"], ["hello", "send 500 usdt"]) == [[], []]
