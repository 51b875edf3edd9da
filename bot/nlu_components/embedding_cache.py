"""On-disk cache of training-data embeddings, keyed by model digest and text.

Only texts that are already on disk are cached: training examples (nlu/), help-center
article passages and the help-center test questions (each under its own namespace);
customer messages parsed at run time are never written here.
"""
import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path

import numpy as np

FILE_NAME = "embeddings.sqlite3"


class EmbeddingCache:
    """Maps text -> float32 vector for one model, stored in a small SQLite file."""

    def __init__(self, directory: Path, model_digest: str, dimensions: int) -> None:
        self._path = directory / FILE_NAME
        self._namespace = model_digest
        self._dimensions = dimensions

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self._namespace}\0{text}".encode()).hexdigest()

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, timeout=30)
        connection.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        return connection

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors of those texts that are cached and intact."""
        keys = {self._key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        if not keys:
            return found
        with closing(self._connect()) as connection:
            key_list = list(keys)
            for start in range(0, len(key_list), 500):
                chunk = key_list[start : start + 500]
                placeholders = ",".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({placeholders})", chunk
                ).fetchall()
                for key, blob in rows:
                    if len(blob) == self._dimensions * 4:  # a damaged row is simply recomputed
                        found[keys[key]] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors (float32) under their texts."""
        if not vectors:
            return
        rows = [(self._key(text), np.asarray(v, dtype=np.float32).tobytes()) for text, v in vectors.items()]
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
