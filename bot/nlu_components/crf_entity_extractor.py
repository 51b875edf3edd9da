"""Rasa's CRF entity extractor, stored as its trained CRFSuite models instead of trained again at each load.

Rasa 3.6's `CRFEntityExtractor` stores its training set (`crf_dataset.json`, 33 MB for this
bot) and fits its CRFs again every time a model is loaded: more than half of a Rasa
server's model load, and again in its NLU child (see `bot/runtime/nlu_process.py`), so a
server restarted after a crash took that much longer to answer and to parse at full speed.
This subclass stores each CRF as the model file CRFSuite wrote when training it (CRFSuite's
own format, not a pickle) and opens it at load. Features, training and predictions are
Rasa's; entities still name ``CRFEntityExtractor`` as their extractor.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import rasa.shared.utils.io
import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken


def opened(model: bytes) -> sklearn_crfsuite.CRF:
    """A CRF ready to predict from CRFSuite model bytes, its tagger opened at once.

    Rasa loads a model from a temporary directory it removes after loading, so the bytes go
    to a temporary file the CRF owns (as `sklearn_crfsuite` does when it unpickles a CRF;
    copies and pickles of the component keep working). CRFSuite reads the file whole when
    the tagger opens, here rather than at the first parse, which may come days later in a
    server whose NLU child parses: a temp cleaner may have removed the file by then.
    """
    crf = sklearn_crfsuite.CRF()
    crf.modelfile.ensure_name()
    Path(crf.modelfile.name).write_bytes(model)
    if crf.tagger_ is None:  # opens it; CRFSuite raises on a file it cannot read
        raise RuntimeError("the stored CRF has no file")
    return crf


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """`CRFEntityExtractor` that persists its trained CRFs and loads them as they are.

    The file names are part of the class: Rasa's training cache is keyed on the class's
    source, so a change to the stored format must show there.
    """

    ORDER_FILE = "crf_order.json"

    @staticmethod
    def model_file(model_dir: Path, tag_name: str) -> Path:
        """Where the CRF that predicts ``tag_name`` (entity, role or group) is stored."""
        return model_dir / f"crf_{tag_name}.crfsuite"

    @property
    def name(self) -> str:
        """The extractor named in each entity: Rasa's, whose CRF this is."""
        return CRFEntityExtractor.__name__

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        """Store the fitted CRFs and their order; the training set is not needed again."""
        with self._model_storage.write_to(self._resource) as model_dir:
            for tag_name, tagger in (self.entity_taggers or {}).items():
                self.model_file(model_dir, tag_name).write_bytes(Path(tagger.modelfile.name).read_bytes())
            rasa.shared.utils.io.dump_obj_as_json_to_file(model_dir / self.ORDER_FILE, self.crf_order)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> StoredCRFEntityExtractor:
        """Open the stored CRFs; a model trained without entity examples has none and extracts nothing."""
        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = rasa.shared.utils.io.read_json_file(model_dir / cls.ORDER_FILE)
                stored = [(tag_name, cls.model_file(model_dir, tag_name).read_bytes()) for tag_name in crf_order]
        except ValueError:  # nothing was persisted: training saw no entity example
            return cls(config, model_storage, resource)
        taggers = OrderedDict((tag_name, opened(model)) for tag_name, model in stored)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor
