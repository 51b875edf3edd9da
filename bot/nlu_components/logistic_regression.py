"""Rasa's logistic-regression intent classifier, made cheaper per parse without changing a prediction.

Rasa's `LogisticRegressionClassifier` spends ~6 ms a message outside the arithmetic: it
builds each row through `Message.get_sparse_features`, which also combines the token-level
features it then ignores and joins every featurizer's matrix pairwise through deep copies;
and scikit-learn copies the whole coefficient matrix (classes x ~60k features) on every
prediction because its transpose is not contiguous. This subclass builds the same row (the
sparse sentence features in pipeline order, then the dense ones) in one step and keeps the
coefficients in the order the product reads them. Training, persistence and predictions
are Rasa's and scikit-learn's own. A blank message gets no features from some featurizers;
it gets no intent, so the fallback classifier answers it, where Rasa's classifier fails the
whole parse on its short row.

With ``script_copies`` on, each row also carries the dense sentence embedding twice more:
once in a block only Korean and Chinese messages fill, once in a block only the others
fill (feature augmentation, Daume III 2007, "Frustratingly easy domain adaptation").
"""

from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, vstack


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class FastLogisticRegressionClassifier(LogisticRegressionClassifier):
    """`LogisticRegressionClassifier` with one-step feature rows, a copy-free product and a settable ``C``.

    ``C`` (scikit-learn's inverse regularisation strength; Rasa fixes it at 1.0) shapes how
    sure the probabilities are, which the fallback and the P1 safety net read.

    ``script_copies`` (default off: Rasa's rows) adds a Korean/Chinese copy and an
    other-scripts copy of the sentence embedding to each row, beside the shared one. A few
    hundred Korean and Chinese sentences sit beside thousands of real English rows: with
    the embedding shared only, every Korean or Chinese example moves the weights English
    messages are decided by, and the English rows outvote them. With the copies, the
    classifier learns what the languages share in the shared block and what differs in
    each copy, so examples in one language move the other's decisions less.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0, "script_copies": False}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=self.config["C"])

    def process(self, messages: list[Message]) -> list[Message]:
        coefficients = getattr(self.clf, "coef_", None)
        if coefficients is not None and not coefficients.flags.f_contiguous:
            self.clf.coef_ = np.asfortranarray(coefficients)  # same values; coef_.T is now C-contiguous
        copies = bool(self.config["script_copies"])
        complete = [_row_width(message, copies) == self.clf.n_features_in_ for message in messages]
        if any(complete):
            super().process([message for message, whole in zip(messages, complete, strict=True) if whole])
        for message, whole in zip(messages, complete, strict=True):
            if not whole:
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        copies = bool(self.config["script_copies"])
        return vstack([_sentence_row(message, copies) for message in messages], format="csr")


def is_korean_or_chinese(text: str) -> bool:
    """Whether the text has a Hangul syllable or a CJK unified ideograph (the scripts `make nlu-report` scores)."""
    return any("\uac00" <= c <= "\ud7a3" or "\u4e00" <= c <= "\u9fff" for c in text)


def _row_width(message: Message, script_copies: bool) -> int:
    """The width of ``_sentence_row``'s row, read from the features' shapes without building it."""
    width = dense = 0
    for feature in message.features:
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE:
            width += feature.features.shape[-1]
            dense += 0 if feature.is_sparse() else feature.features.shape[-1]
    return width + (2 * dense if script_copies else 0)


def _sentence_row(message: Message, script_copies: bool = False) -> csr_matrix:
    """The row Rasa's classifier builds: sparse sentence features, then dense ones, left to right.

    With ``script_copies``, two blocks the width of the dense features follow: the first
    holds them for a Korean or Chinese message, the second for any other; the other is zero.
    """
    values: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    dense: list[np.ndarray] = []
    width = 0
    for feature in message.features:
        if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
            continue
        if feature.is_sparse():
            block = feature.features.tocoo()
            values.append(block.data)
            columns.append(block.col + width)
            width += block.shape[1]
        else:
            vector = np.asarray(feature.features).ravel()
            values.append(vector)
            columns.append(np.arange(width, width + vector.size))
            width += vector.size
            dense.append(vector)
    if script_copies:
        vector = np.concatenate(dense) if dense else np.zeros(0)
        start = width if is_korean_or_chinese(message.get(TEXT) or "") else width + vector.size
        values.append(vector)
        columns.append(np.arange(start, start + vector.size))
        width += 2 * vector.size
    data = np.concatenate(values) if values else np.zeros(0)
    row = csr_matrix((data, np.concatenate(columns) if columns else np.zeros(0, int), [0, data.size]), shape=(1, width))
    row.sum_duplicates()
    return row
