"""A copy of the shipped help center in a temporary folder, to edit, break and reload in tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bot.helpcenter.settings import DEFAULT_DIRECTORY, FACTS_FILE_NAME, HelpCenterSettings


def copied_help_center(tmp_path: Path, **overrides: object) -> HelpCenterSettings:
    """Settings for a fresh copy of ``helpcenter/`` that is looked at on every call (no reload pause)."""
    directory = tmp_path / "helpcenter"
    shutil.copytree(DEFAULT_DIRECTORY, directory)
    values: dict = {"directory": directory, "facts_file": directory / FACTS_FILE_NAME, "reload_check_seconds": 0.0}
    return HelpCenterSettings(**{**values, **overrides})  # type: ignore[arg-type]


def rewrite(path: Path, old: str, new: str) -> None:
    """Replace text in a file and move its modification time on, as an editor saving it later would."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    write_later(path, text.replace(old, new, 1))


def write_later(path: Path, text: str) -> None:
    """Write a file whose modification time is surely newer than before (file clocks are coarse)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(later, later))
