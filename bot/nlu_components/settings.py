"""Settings of the NLU components, read once from the environment."""
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAX_THREADS = 2


@dataclass(frozen=True)
class EmbeddingSettings:
    """Where training-data embeddings are cached and how many threads the encoder uses.

    Attributes:
        cache_dir: directory of the on-disk embedding cache (training data only).
        threads: OpenMP threads of the embedding engine. The engine scales almost
            linearly to two (57 -> 29 ms for a 27-token sentence here), so the default is
            the machine's cores, at most 2; 1 suits a machine shared by many processes.
    """

    cache_dir: Path
    threads: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "EmbeddingSettings":
        """Read `NLU_EMBEDDING_CACHE_DIR` and `NLU_EMBEDDING_THREADS`."""
        cache_dir = environ.get("NLU_EMBEDDING_CACHE_DIR") or str(REPO_ROOT / "var" / "embedding_cache")
        threads = int(environ.get("NLU_EMBEDDING_THREADS") or min(os.cpu_count() or 1, DEFAULT_MAX_THREADS))
        if threads < 1:
            raise ValueError(f"NLU_EMBEDDING_THREADS must be at least 1, got {threads}")
        return cls(cache_dir=Path(cache_dir), threads=threads)
