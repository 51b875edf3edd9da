"""Rasa sends the domain only to the actions marked for it (``enable_selective_domain`` in endpoints.yml).

An action whose code reads its ``domain`` argument without the mark would get ``{}`` and quietly
do less (the read-back's "unknown" would stay English): every such action must be marked
``send_domain: true`` in bot/domain.yml, or be a ``validate_`` action Rasa marks itself.
"""

from __future__ import annotations

import ast

from rasa.shared.core.domain import Domain

from bot.settings import PROJECT_ROOT

ACTIONS = PROJECT_ROOT / "bot" / "actions"


def _reads_domain(action: ast.ClassDef) -> bool:
    """``domain.x``, ``domain[...]``, or ``domain`` handed on to another call (a base class's ``run``)."""
    for node in ast.walk(action):
        reads = isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.value, ast.Name)
        if reads and node.value.id == "domain":  # type: ignore[union-attr]
            return True
        if isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id == "domain" for a in node.args):
            return True
    return False


def _name(action: ast.ClassDef) -> str | None:
    """What ``name()`` returns, when it is a literal."""
    for node in action.body:
        if isinstance(node, ast.FunctionDef) and node.name == "name":
            returned = next((n.value for n in ast.walk(node) if isinstance(n, ast.Return)), None)
            if isinstance(returned, ast.Constant) and isinstance(returned.value, str):
                return returned.value
    return None


def actions_reading_the_domain() -> set[str]:
    found = set()
    for path in ACTIONS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (name := _name(node)) is not None and _reads_domain(node):
                found.add(name)
    return found


def test_every_action_that_reads_the_domain_is_sent_it() -> None:
    reading = actions_reading_the_domain()
    assert {"action_read_back", "validate_case_details_form"} <= reading  # the scan sees what it must
    marked = set(Domain.load(str(PROJECT_ROOT / "bot" / "domain.yml"))._actions_which_explicitly_need_domain)
    assert reading <= marked, f"mark these send_domain: true in bot/domain.yml: {sorted(reading - marked)}"
