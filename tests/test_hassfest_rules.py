"""What Home Assistant's validators (hassfest, its pylint plugins) reject, checked in `make test`.

hassfest itself lives in Home Assistant's source repository (script/hassfest), not in the
`homeassistant` package, so CI runs it as a GitHub action and this module checks the rules the
integration has broken before: translations, manifest dependencies, imports.
"""

import ast
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import Platform

from custom_components.microhome import protocol
from custom_components.microhome.const import DOMAIN

INTEGRATION = Path(__file__).resolve().parents[1] / "custom_components" / DOMAIN
STRINGS = json.loads((INTEGRATION / "strings.json").read_text())
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text())
MODULES = {path.stem: ast.parse(path.read_text()) for path in sorted(INTEGRATION.glob("*.py"))}

KEY = re.compile(r"^[a-z0-9_-]+$")
# A "<word ...>" the frontend would take for an HTML tag (hassfest rejects such texts).
HTML_LIKE = re.compile(r"<[^<>]*>")
SINGLE_QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
# Integrations hassfest lets any integration import without declaring them: the entity
# platforms and internal ones that register things without being set up.
ALWAYS_IMPORTABLE = {platform.value for platform in Platform} | {
    "frontend",
    "homeassistant",
    "persistent_notification",
    "websocket_api",
}


def texts(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, text) of a translations tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from texts(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


def keys(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, key) of a translations tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key
            yield from keys(value, f"{path}.{key}" if path else key)


def imports() -> Iterator[tuple[str, str, list[str]]]:
    """(module, imported module, names) of every import of the integration, nested ones too."""
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield name, node.module, [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield name, alias.name, []


def component_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["homeassistant", "components"] and len(parts) > 2:
        return parts[2]
    return None


def test_translations_are_strings_json() -> None:
    english = json.loads((INTEGRATION / "translations" / "en.json").read_text())
    assert english == STRINGS


def test_translation_keys_are_lower_case() -> None:
    bad = [f"{path}: {key}" for path, key in keys(STRINGS) if not KEY.match(key)]
    assert bad == []


def test_selector_option_keys_are_lower_case() -> None:
    options = [
        (name, key) for name, selector in STRINGS["selector"].items() for key in selector["options"]
    ]
    assert options
    assert [f"{name}: {key}" for name, key in options if not KEY.match(key)] == []


def test_log_level_choices_cover_the_node_levels() -> None:
    assert list(STRINGS["selector"]["log_level"]["options"]) == list(
        protocol.LOG_LEVEL_NAMES.values()
    )
    assert sorted(protocol.LOG_LEVEL_NAMES) == sorted(protocol.LOG_LEVELS)


def test_no_text_looks_like_html() -> None:
    bad = [f"{path}: {text!r}" for path, text in texts(STRINGS) if HTML_LIKE.search(text)]
    assert bad == []


def test_no_placeholder_in_single_quotes() -> None:
    bad = [
        f"{path}: {text!r}"
        for path, text in texts(STRINGS)
        if SINGLE_QUOTED_PLACEHOLDER.search(text)
    ]
    assert bad == []


def used_translation_keys() -> Iterator[tuple[str, str, str]]:
    """(module, section of strings.json, key) of every constant translation key in the code."""
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute | ast.Name)
                        and (target.attr if isinstance(target, ast.Attribute) else target.id)
                        == "_attr_translation_key"
                        and isinstance(node.value, ast.Constant)
                    ):
                        yield name, "entity", node.value.value
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            given = {kw.arg: kw.value for kw in node.keywords}
            if called in ("async_set_issue", "async_create_issue") and len(node.args) > 2:
                given.setdefault("translation_key", node.args[2])
            if called == "_select" and len(node.args) > 1:
                given.setdefault("translation_key", node.args[1])
            key = given.get("translation_key")
            if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
                continue
            if called in ("async_set_issue", "async_create_issue"):
                yield name, "issues", key.value
            elif called in {"_select", "SelectSelectorConfig"}:
                yield name, "selector", key.value
            elif "translation_domain" in given:
                yield name, "exceptions", key.value
            else:
                yield name, "entity", key.value


def test_every_translation_key_in_the_code_is_translated() -> None:
    used = list(used_translation_keys())
    assert {section for _, section, _ in used} >= {"entity", "issues", "exceptions", "selector"}
    missing = []
    for module, section, key in used:
        if section != "entity":
            found = key in STRINGS[section]
        elif module in STRINGS["entity"]:  # a platform module: its own platform's section
            found = key in STRINGS["entity"][module]
        else:
            found = any(key in platform for platform in STRINGS["entity"].values())
        if not found:
            missing.append(f"{module}: {section}.{key}")
    assert missing == []


def test_manifest_keys_are_sorted() -> None:
    assert list(MANIFEST)[:2] == ["domain", "name"]
    assert list(MANIFEST)[2:] == sorted(list(MANIFEST)[2:])


def test_every_imported_integration_is_a_dependency() -> None:
    declared = set(MANIFEST.get("dependencies", [])) | set(MANIFEST.get("after_dependencies", []))
    platforms = set(MODULES)  # importing X from the platform file X.py is fine
    undeclared = sorted(
        f"{module}: {component}"
        for module, imported, _ in imports()
        if (component := component_of(imported))
        and component not in declared | platforms | ALWAYS_IMPORTABLE | {DOMAIN}
    )
    # `from homeassistant.components import mqtt` names the integration in its names.
    undeclared += sorted(
        f"{module}: {name}"
        for module, imported, names in imports()
        if imported == "homeassistant.components"
        for name in names
        if name not in declared | platforms | ALWAYS_IMPORTABLE | {DOMAIN}
    )
    assert undeclared == []


def test_imports_come_from_a_components_root() -> None:
    """HA's pylint plugin: import a name from the component, not its submodule, when it can."""
    bad = []
    for module, imported, names in imports():
        component = component_of(imported)
        if component is None or component == DOMAIN or imported.count(".") < 3:
            continue
        root = importlib.import_module(f"homeassistant.components.{component}")
        exported = [name for name in names if hasattr(root, name)]
        if exported:
            bad.append(f"{module}: {', '.join(exported)} from {imported}")
    assert bad == []


def test_the_integration_imports_itself_relatively() -> None:
    bad = [
        f"{module}: {imported}"
        for module, imported, _ in imports()
        if imported.startswith(("custom_components.", f"homeassistant.components.{DOMAIN}"))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ("microhome/<node id>/state", True),
        ("Put one in <config>/microhome/", True),
        ("`microhome flash --port SERIAL_PORT`", False),
        ("temperature < 5", False),
    ],
)
def test_html_rule_catches_what_hassfest_rejects(text: str, rejected: bool) -> None:
    assert bool(HTML_LIKE.search(text)) is rejected
