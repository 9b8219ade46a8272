"""Session-state keys have one home, ``ui.keys``: names are unique and documented, no other module
touches ``st.session_state`` or spells a key, and the names the page tests seed exist there."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from tests.app.conftest import ROOT
from ui import keys

REGISTRY = ROOT / "ui" / "keys.py"


def app_sources() -> list[Path]:
    """Every file of the app that may use session state: ui/, views/ and app.py."""
    return [
        *sorted((ROOT / "ui").glob("*.py")),
        *sorted((ROOT / "views").glob("*.py")),
        ROOT / "app.py",
    ]


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}: {ast.unparse(node)}"


def is_session_state(node: ast.AST) -> bool:
    """``st.session_state`` (or any ``<x>.session_state``) and a bare ``session_state``."""
    return (isinstance(node, ast.Attribute) and node.attr == "session_state") or (
        isinstance(node, ast.Name) and node.id == "session_state"
    )


def is_text(node: ast.AST) -> bool:
    """A string literal or an f-string: a key spelled in place."""
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr
    )


def spells_a_session_key(node: ast.AST) -> bool:
    """``session_state["k"]``, ``session_state.get/pop/setdefault("k")``, ``"k" in session_state``."""
    if isinstance(node, ast.Subscript):
        return is_session_state(node.value) and is_text(node.slice)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return is_session_state(node.func.value) and bool(node.args) and is_text(node.args[0])
    if isinstance(node, ast.Compare):
        return is_text(node.left) and any(is_session_state(c) for c in node.comparators)
    return False


def rooted_in_registry(node: ast.AST) -> bool:
    """``keys.X`` or ``keys.f(...)``: an expression that starts at the ``ui.keys`` module."""
    while isinstance(node, ast.Attribute | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id == "keys"


def test_every_registered_name_is_unique_and_documented() -> None:
    registered = keys.registered()
    assert len(registered) >= 60, [k.name for k in registered]
    repeated = [name for name, count in Counter(k.name for k in registered).items() if count > 1]
    assert not repeated
    assert all(k.doc.strip() for k in registered), [k.name for k in registered if not k.doc]


def test_keys_made_per_item_can_never_meet_a_registered_name() -> None:
    # The per-item keys all contain ':' and no fixed name does.
    assert not [k.name for k in keys.registered() if ":" in k.name]
    made = [
        keys.retry("check feasibility"),
        keys.retry("refresh the task", keys.MONITOR_PANEL),
        keys.use_contract("c-1"),
        keys.download("p-1", "GRD"),
    ]
    assert all(":" in k.name for k in made)
    assert keys.retry("refresh the task", keys.MONITOR_PANEL) != keys.retry("refresh the task")
    # The same action always gets the same key: a page asks for the one ``attempt`` showed.
    assert keys.retry("check feasibility") == keys.retry("check feasibility")


@pytest.mark.parametrize("path", app_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_session_state_key_is_spelled_as_a_string(path: Path) -> None:
    spelled = [n for n in ast.walk(parsed(path)) if spells_a_session_key(n)]
    assert [where(path, n) for n in spelled] == []


@pytest.mark.parametrize("path", app_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_registry_touches_session_state(path: Path) -> None:
    if path == REGISTRY:
        return
    touching = [n for n in ast.walk(parsed(path)) if is_session_state(n)]
    assert [where(path, n) for n in touching] == []


@pytest.mark.parametrize("path", app_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_widget_key_and_retry_key_comes_from_the_registry(path: Path) -> None:
    wrong: list[str] = []
    for node in ast.walk(parsed(path)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "key" and not isinstance(value, ast.Lambda):  # sorted(key=...)
                # ``key=keys.X.name`` or ``key=keys.f(...).name``
                ok = isinstance(value, ast.Attribute) and value.attr == "name"
                # show_error's Retry button takes the key it was given (checked below at the calls).
                passed_on = ast.unparse(value) == "retry_key.name"
                if not (ok and (rooted_in_registry(value) or passed_on)):
                    wrong.append(where(path, value))
            elif keyword.arg == "retry_key":
                ok = isinstance(value, ast.Call) and ast.unparse(value.func) == "keys.retry"
                if not ok:
                    wrong.append(where(path, value))
    assert wrong == []


def names_the_page_tests_use() -> set[str]:
    """Keys the page tests seed or look widgets up by: ``session_state["k"]``, ``key="k"``,
    ``open_app(page, k=...)``."""
    used: set[str] = set()
    for path in sorted((ROOT / "tests" / "app").glob("test_*.py")):
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Subscript)
                and is_session_state(node.value)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                used.add(node.slice.value)
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if (
                    keyword.arg == "key"
                    and isinstance(keyword.value, ast.Constant)
                    and isinstance(keyword.value.value, str)
                ):
                    used.add(keyword.value.value)
                elif ast.unparse(node.func) == "open_app" and keyword.arg not in (None, "query"):
                    used.add(keyword.arg)
    return used


def test_the_names_the_page_tests_use_are_registered() -> None:
    used = names_the_page_tests_use()
    assert {"poi_lat", "nt_reference", "contract_id", "nt_order"} <= used  # the scan finds them
    assert used - {k.name for k in keys.registered()} == set()
