"""The CRF entity extractor loads as it was trained: its model files are stored, nothing is fitted at load.

Rasa's own extractor stores its training set and fits its CRFs again at every model load,
more than half of a restarted server's load (bot/nlu_components/crf_entity_extractor.py).
"""

import tarfile
from pathlib import Path

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

    # the served model's own graph prepares the message up to the CRF (tokens, features, intent)
    runner, before = served_agent.processor.graph_runner, node.needs["messages"]
    inputs = {PLACEHOLDER_MESSAGE: [UserMessage(TEXT)], PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("t", [])}
    [prepared] = runner.run(inputs=inputs, targets=[before])[before]
    [message] = extractor.process([prepared])
    found = {(e["entity"], e["value"].lower(), e["extractor"]) for e in message.get("entities")}
    assert {("coin", "usdt", "CRFEntityExtractor"), ("network", "trc20", "CRFEntityExtractor")} <= found, found

    [served] = runner.run(inputs={**inputs, PLACEHOLDER_MESSAGE: [UserMessage(TEXT)]}, targets=[name])[name]
    assert served.get("entities") == message.get("entities")  # the server's copy, loaded the same way

