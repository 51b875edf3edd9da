"""Train the Rasa model only when its inputs changed; print the model's path.

The model file is named by a hash of config, domain, NLU data, stories and the code of our
own NLU components (it shapes the features the model learns from), so an unchanged
checkout reuses ``models/support-<hash>.tar.gz`` instead of training again.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bot.runtime.configuration import load_env_file
from bot.settings import PROJECT_ROOT

MODEL_INPUTS = ("config.yml", "bot/domain.yml", "nlu", "stories", "bot/nlu_components")
MODELS_DIR = PROJECT_ROOT / "models"
KEEP_MODELS = 3


def inputs_digest(root: Path = PROJECT_ROOT) -> str:
    """Hash of every file that shapes the model, by relative path and content."""
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = root / name
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "models" / f"support-{inputs_digest(root)}.tar.gz"


def ensure_model(root: Path = PROJECT_ROOT) -> Path:
    """Return the cached model for the current inputs, training it first if needed."""
    target = model_path(root)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "rasa"),
        "train",
        "--config", str(root / "config.yml"),
        "--domain", str(root / "bot" / "domain.yml"),
        "--data", str(root / "nlu"), str(root / "stories"),
        "--out", str(target.parent),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=root, stdout=sys.stderr)  # stdout: only the model's path
    _prune(target.parent, keep=target)
    return target


def _prune(directory: Path, keep: Path) -> None:
    """Keep the newest few models so switching branches stays cheap without filling the disk."""
    models = sorted(directory.glob("support-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][KEEP_MODELS - 1 :]:
        old.unlink()


if __name__ == "__main__":
    load_env_file()  # NLU_EMBEDDING_* shape training
    print(ensure_model())
