"""The fast classifier builds exactly the feature rows Rasa's LogisticRegressionClassifier builds."""
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from rasa.core.channels.channel import UserMessage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from bot.nlu_components.logistic_regression import FastLogisticRegressionClassifier, _row_width, is_korean_or_chinese


def _message(seed: int, with_dense: bool = True) -> Message:
    rng = np.random.default_rng(seed)
    message = Message(data={TEXT: f"message {seed}"})
    for origin, width in (("regex", 7), ("words", 40), ("chars", 120)):
        tokens = scipy.sparse.coo_matrix(rng.integers(0, 2, (4, width)).astype(float))
        message.add_features(Features(tokens, FEATURE_TYPE_SEQUENCE, TEXT, origin))
        sentence = scipy.sparse.coo_matrix(rng.integers(0, 3, (1, width)).astype(float))
        message.add_features(Features(sentence, FEATURE_TYPE_SENTENCE, TEXT, origin))
    if with_dense:
        vector = rng.normal(size=(1, 16)).astype(np.float32)
        message.add_features(Features(vector, FEATURE_TYPE_SENTENCE, TEXT, "embedding"))
    message.add_features(Features(np.ones((1, 5)), FEATURE_TYPE_SENTENCE, "intent", "other-attribute"))
    return message


def test_feature_rows_match_rasas_for_sparse_and_dense_and_sparse_only_messages():
    for with_dense in (True, False):
        messages = [_message(seed, with_dense) for seed in range(5)]
        ours = FastLogisticRegressionClassifier({}, "c", None, None)._create_X(messages)  # type: ignore[arg-type]
        rasas = LogisticRegressionClassifier._create_X(None, messages)  # type: ignore[arg-type]
        assert ours.shape == rasas.shape == (5, 167 + (16 if with_dense else 0))
        assert np.array_equal(ours.toarray(), rasas.toarray())
        for copies in (False, True):
            classifier = FastLogisticRegressionClassifier({"script_copies": copies}, "c", None, None)  # type: ignore[arg-type]
            assert _row_width(messages[0], copies) == classifier._create_X(messages[:1]).shape[1]


def test_c_from_the_config_reaches_scikit_learn():
    classifier = FastLogisticRegressionClassifier({"C": 0.3}, "classifier", None, None)  # type: ignore[arg-type]
    assert classifier.clf.C == 0.3
    assert FastLogisticRegressionClassifier({}, "classifier", None, None).clf.C == 1.0  # type: ignore[arg-type]


def test_script_copies_put_the_embedding_in_the_block_of_the_messages_script():
    classifier = FastLogisticRegressionClassifier({"script_copies": True}, "c", None, None)  # type: ignore[arg-type]
    plain = FastLogisticRegressionClassifier({}, "c", None, None)  # type: ignore[arg-type]
    for seed, text, block in ((1, "my withdrawal is stuck", 1), (2, "출금이 안 돼요", 0), (3, "USDT 提现没到", 0)):
        message = _message(seed)
        message.set(TEXT, text)
        rasas = plain._create_X([message]).toarray()[0]
        ours = classifier._create_X([message]).toarray()[0]
        embedding = rasas[-16:]
        copies = ours[len(rasas) :].reshape(2, 16)
        assert np.array_equal(ours[: len(rasas)], rasas)
        assert np.array_equal(copies[block], embedding) and not copies[1 - block].any()
    message = _message(4, with_dense=False)
    assert classifier._create_X([message]).shape == plain._create_X([message]).shape  # no dense features: no copies


def test_korean_and_chinese_are_told_from_other_scripts():
    assert is_korean_or_chinese("계정이 잠겼어요") and is_korean_or_chinese("账户被冻结了")
    assert not is_korean_or_chinese("my USDT withdrawal is pending") and not is_korean_or_chinese("")


@pytest.mark.parametrize("text", ["", " ", "\t\n"])
async def test_a_blank_message_falls_back_instead_of_failing_the_parse(served_agent: Any, text: str) -> None:
    """Some featurizers give a blank text no features: Rasa's classifier failed the parse on the short row."""
    parsed = await served_agent.processor.parse_message(UserMessage(text, sender_id="blank"))
    assert parsed["intent"]["name"] == "nlu_fallback"
    assert parsed["entities"] == []
    worded = await served_agent.processor.parse_message(UserMessage("my withdrawal is stuck", sender_id="blank"))
    assert worded["intent"]["name"] != "nlu_fallback" and len(worded["intent_ranking"]) > 1
