"""The operator's settings file of exchange-specific facts, and filling ``{{ placeholders }}`` from it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.helpcenter.errors import HelpCenterError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
# Filled from the core settings, not the file: the same names the bot's security warnings use.
BUILT_IN = ("official_domains", "primary_domain", "support_handles")
# The names a value inside the facts file may quote (everything else there is literal).
USABLE_IN_FILE = (*BUILT_IN, "exchange_name")


@dataclass(frozen=True)
class Facts:
    """Every fact as ``dotted.name -> text``, and whether the shipped example values are still in place."""

    values: Mapping[str, str]
    example_values: bool

    def unknown_names(self, text: str) -> list[str]:
        """The placeholder names in ``text`` that no fact fills, in order of appearance."""
        return [name for name in PLACEHOLDER.findall(text) if name not in self.values]

    def fill(self, text: str) -> str:
        """``text`` with every placeholder replaced; a name with no fact raises `HelpCenterError`."""
        unknown = self.unknown_names(text)
        if unknown:
            raise HelpCenterError(f"unknown placeholder(s): {', '.join(sorted(set(unknown)))}")
        return PLACEHOLDER.sub(lambda match: self.values[match.group(1)], text)


def load_facts(path: Path, official_domains: tuple[str, ...], support_handles: tuple[str, ...]) -> Facts:
    """Read the facts file; the official domains and handles come from the core settings."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise HelpCenterError(f"{path}: cannot read the facts file: {error}") from error
    if not isinstance(data, dict):
        raise HelpCenterError(f"{path}: the facts file must be a mapping of names to values")
    example_values = data.pop("example_values", False)
    if not isinstance(example_values, bool):
        raise HelpCenterError(f"{path}: example_values must be true or false")
    clash = sorted(set(BUILT_IN) & set(data))
    if clash:
        raise HelpCenterError(
            f"{path}: {', '.join(clash)} come from OFFICIAL_DOMAINS / SUPPORT_HANDLES, not from this file"
        )
    built_in = {
        "official_domains": ", ".join(official_domains),
        "primary_domain": official_domains[0] if official_domains else "",
        "support_handles": ", ".join(support_handles),
    }
    flat: dict[str, str] = {}
    _flatten(data, "", flat, path)
    usable = {**built_in, **{name: flat[name] for name in USABLE_IN_FILE if name in flat}}
    for name, value in flat.items():
        unusable = sorted({found for found in PLACEHOLDER.findall(value) if found not in usable})
        if unusable:
            raise HelpCenterError(
                f"{path}: {name} quotes {', '.join(unusable)}; a value may quote only {', '.join(USABLE_IN_FILE)}"
            )
        flat[name] = PLACEHOLDER.sub(lambda match: usable[match.group(1)], value)
    return Facts(values={**flat, **built_in}, example_values=example_values)


def _flatten(node: Any, prefix: str, into: dict[str, str], path: Path) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", key):
                where = prefix.rstrip(".") or "the top"
                raise HelpCenterError(f"{path}: name {key!r} under {where} must be letters, digits, _ or -")
            _flatten(value, f"{prefix}{key}.", into, path)
    elif isinstance(node, list):
        into[prefix.rstrip(".")] = ", ".join(_scalar(item, prefix, path) for item in node)
    else:
        into[prefix.rstrip(".")] = _scalar(node, prefix, path)


def _scalar(value: Any, prefix: str, path: Path) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise HelpCenterError(f"{path}: {prefix.rstrip('.')} needs a value")
    return str(value)
