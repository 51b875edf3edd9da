"""The sentence-embedding featurizer: real model, real Rasa messages, real on-disk cache."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu_components.embedding_cache import EmbeddingCache
from bot.nlu_components.encoder import DIMENSIONS, bundled_model, shared_encoder
from bot.nlu_components.errors import EmbeddingModelError
from bot.nlu_components.sentence_embeddings import SentenceEmbeddingFeaturizer


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "embedding_cache"
    monkeypatch.setenv("NLU_EMBEDDING_CACHE_DIR", str(directory))
    return directory


def make_featurizer(tmp_path, **config):
    return SentenceEmbeddingFeaturizer.create(
        {**SentenceEmbeddingFeaturizer.get_default_config(), **config},
        LocalModelStorage(tmp_path / "storage"),
        Resource("sentence_embeddings"),
        ExecutionContext(GraphSchema({}), node_name="sentence_embeddings"),
    )


def training_data(*texts):
    return TrainingData([Message.build(text=t, intent="x") for t in texts])


def sentence_vector(message):
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None, "only sentence-level features are expected"
    assert sentence is not None and sentence.features.shape == (1, DIMENSIONS)
    return sentence.features[0]


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_are_deterministic_and_normalised():
    encoder = shared_encoder(None, 1)
    texts = ["my withdrawal has been pending for two days", "계정이 잠겼어요", "我的账号被盗了"]
    first, second = encoder.embed(texts), encoder.embed(texts)
    assert first.dtype == np.float32 and first.shape == (3, DIMENSIONS)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)


def test_similar_sentences_score_closer_than_unrelated_ones():
    theft, theft_paraphrase, fees = shared_encoder(None, 1).embed([
        "someone hacked my account and withdrew all my bitcoin",
        "a stranger broke into my profile and emptied my crypto",
        "how much does it cost to withdraw usdt on trc20",
    ])
    korean_theft = shared_encoder(None, 1).embed(["누가 제 계정을 해킹해서 코인을 다 빼갔어요"])[0]
    assert cosine(theft, theft_paraphrase) > cosine(theft, fees) + 0.05
    assert cosine(korean_theft, theft) > cosine(korean_theft, fees)


def test_featurizer_adds_a_sentence_feature_to_each_message(tmp_path, cache_dir):
    featurizer = make_featurizer(tmp_path)
    message = Message(data={TEXT: "my deposit never arrived"})
    empty = Message(data={TEXT: ""})
    featurizer.process([message, empty])
    vector = sentence_vector(message)
    np.testing.assert_allclose(vector, shared_encoder(None, 1).embed(["my deposit never arrived"])[0])
    assert empty.get_dense_features(TEXT) == (None, None)
    scaled = Message(data={TEXT: "my deposit never arrived"})
    make_featurizer(tmp_path, scale=8.0).process([scaled])
    np.testing.assert_allclose(sentence_vector(scaled), vector * 8.0, rtol=1e-5)


def test_training_embeddings_are_cached_and_reused_on_retraining(tmp_path, cache_dir):
    featurizer = make_featurizer(tmp_path)
    encoder = featurizer.encoder
    texts = ["my account is frozen", "withdrawal stuck on TRC20", "where is my ETH deposit"]
    before = encoder.texts_embedded
    first = training_data(*texts)
    featurizer.process_training_data(first)
    assert encoder.texts_embedded - before == 3

    # Retraining after a small data change: only the new sentence goes through the model.
    before = encoder.texts_embedded
    retrained = training_data(*texts, "2FA code never arrives")
    make_featurizer(tmp_path).process_training_data(retrained)
    assert encoder.texts_embedded - before == 1
    for old, new in zip(first.training_examples, retrained.training_examples, strict=False):
        np.testing.assert_array_equal(sentence_vector(old), sentence_vector(new))


def test_parsed_customer_messages_are_not_written_to_the_cache(tmp_path, cache_dir):
    featurizer = make_featurizer(tmp_path)
    featurizer.process([Message(data={TEXT: "my seed phrase is in this message"})])
    cache = EmbeddingCache(cache_dir, bundled_model().sha256, DIMENSIONS)
    assert cache.get_many(["my seed phrase is in this message"]) == {}


def test_missing_model_file_fails_at_creation(tmp_path, cache_dir):
    with pytest.raises(EmbeddingModelError, match=r"model file not found: .*missing\.bin"):
        make_featurizer(tmp_path, model_file=str(tmp_path / "missing.bin"))


def test_corrupt_model_file_fails_at_creation(tmp_path, cache_dir):
    corrupt = tmp_path / "e5-small-q4.bin"
    with bundled_model().path.open("rb") as original:
        corrupt.write_bytes(original.read(1 << 20))  # right magic and header, truncated
    with pytest.raises(EmbeddingModelError, match="corrupt or not the pinned model"):
        make_featurizer(tmp_path, model_file=str(corrupt))


def test_invalid_scale_is_rejected():
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match="scale"):
        SentenceEmbeddingFeaturizer.validate_config({"scale": 0})


LONG_MESSAGE = (
    "hello, I opened the app this morning and saw that my whole balance of bitcoin and ether had been sent "
    "to an address I have never seen, I did not make these withdrawals and I never shared my password"
)


def test_clip_keeps_the_start_of_a_long_message_within_the_token_budget():
    encoder = shared_encoder(None, 1)
    assert encoder.clip("my deposit never arrived", 24) == "my deposit never arrived"
    clipped = encoder.clip(LONG_MESSAGE, 24)
    assert LONG_MESSAGE.startswith(clipped) and LONG_MESSAGE[len(clipped)] == " "  # a whole-word cut
    assert 18 <= encoder._engine.token_count(clipped, True) <= 24
    chinese = "我的账号被盗了所有的比特币都被转走了我该怎么办请尽快帮我冻结账户"
    clipped_chinese = encoder.clip(chinese, 16)
    assert chinese.startswith(clipped_chinese) and 8 < len(clipped_chinese) < len(chinese)


def test_max_tokens_embeds_the_clipped_start_at_parse_and_training_time(tmp_path, cache_dir):
    featurizer = make_featurizer(tmp_path, max_tokens=24)
    encoder = featurizer.encoder
    expected = encoder.embed([encoder.clip(LONG_MESSAGE, 24)])[0]
    parsed = Message(data={TEXT: LONG_MESSAGE})
    featurizer.process([parsed])
    np.testing.assert_allclose(sentence_vector(parsed), expected, rtol=1e-5)
    trained = training_data(LONG_MESSAGE)
    featurizer.process_training_data(trained)
    np.testing.assert_allclose(sentence_vector(trained.training_examples[0]), expected, rtol=1e-5)
    whole = Message(data={TEXT: LONG_MESSAGE})
    make_featurizer(tmp_path).process([whole])
    assert cosine(sentence_vector(whole), expected) < 0.999  # without a budget the whole message counts


@pytest.mark.parametrize("max_tokens", [8, "32", 2.5])
def test_a_max_tokens_that_leaves_no_text_is_rejected(max_tokens):
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match="max_tokens"):
        SentenceEmbeddingFeaturizer.validate_config({"max_tokens": max_tokens})


def test_the_thread_count_changes_speed_only_never_a_vector():
    """NLU_EMBEDDING_THREADS is a serving knob: a model trained with one count serves with another."""
    texts = ["someone withdrew all my USDT", "출금이 3시간째 대기 중이에요", "有人盗了我的账户", "the fees for BTC?"]
    assert np.array_equal(shared_encoder(None, 1).embed(texts), shared_encoder(None, 2).embed(texts))
