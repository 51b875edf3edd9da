"""Settings of the NLU components, read once from the environment."""
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EmbeddingSettings:
    """Where training-data embeddings are cached and how many threads the encoder uses.

    Attributes:
        cache_dir: directory of the on-disk embedding cache (training data only).
        threads: OpenMP threads of the embedding engine, 1 by default. Two halve a parse on
            an idle machine (57 -> 29 ms for a 27-token sentence), but a server is never idle:
            with the other processes busy, a parse took 169 ms of CPU and 180 ms of wall time
            with 2 threads against 23 and 28 with 1 (the second thread waits for a core and
            spins meanwhile). The vectors are bit-identical either way.
    """

    cache_dir: Path
    threads: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "EmbeddingSettings":
        """Read `NLU_EMBEDDING_CACHE_DIR` and `NLU_EMBEDDING_THREADS`."""
        cache_dir = environ.get("NLU_EMBEDDING_CACHE_DIR") or str(REPO_ROOT / "var" / "embedding_cache")
        threads = int(environ.get("NLU_EMBEDDING_THREADS") or 1)
        if threads < 1:
            raise ValueError(f"NLU_EMBEDDING_THREADS must be at least 1, got {threads}")
        return cls(cache_dir=Path(cache_dir), threads=threads)
